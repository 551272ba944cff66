/**
 * i002: only trusted callers invalidate. A Lacquer whose trust.allow does not include loopback
 * refuses PURGE (403, Cache-Status detail=PURGE-REFUSED) and the guarded admin endpoints
 * (POST /purge, GET /bans, POST /reload) and invalidates nothing; a bearer token (trust.token)
 * grants trust, a wrong one is refused; with `require: address-and-token` a loopback caller
 * without the token gets 401. Over IPv6 (::1), the default allow-list trusts ::1 and an
 * IPv4-only allow-list refuses it. With invalidation.purgeMethod off, PURGE is forwarded.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, test } from 'node:test'
import type { ProxyOptions } from '../../src/index.js'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy } from '../helpers/proxy.js'
import { admin, adminPurge, countingRoute, originGets, purge } from '../helpers/invalidation.js'

const TOKEN = 'test-token-0123456789abcdef'
const started: Array<{ close(): Promise<void> }> = []
after(async () => { for (const s of started.reverse()) await s.close() })

async function setup(options: Omit<Partial<ProxyOptions>, 'origin'>): Promise<{ origin: TestOrigin; proxy: TestProxy }> {
  const origin = await startOrigin({ '*': countingRoute() })
  started.push(origin)
  const proxy = await startProxy({ ...options, origin: origin.url })
  started.push(proxy)
  return { origin, proxy }
}

async function store(proxyUrl: string, path: string): Promise<void> {
  await request(`${proxyUrl}${path}`)
  const again = await request(`${proxyUrl}${path}`)
  assert.ok(isHit(again), `${path} stored: ${cacheStatus(again)}`)
}

async function assertStillHit(proxyUrl: string, origin: TestOrigin, path: string, gets: number): Promise<void> {
  const res = await request(`${proxyUrl}${path}`)
  assert.ok(isHit(res), `${path} must still be stored: ${cacheStatus(res)}`)
  assert.equal(originGets(origin, path), gets, 'the origin was not asked again')
}

test('trust.allow without loopback: PURGE, POST /purge, GET /bans and POST /reload are refused with 403 and nothing is invalidated', async () => {
  const { origin, proxy } = await setup({ trust: { allow: ['10.0.0.0/8'] } })
  await store(proxy.url, '/t')
  const host = new URL(proxy.url).host

  const refused = await purge(proxy.url, '/t')
  assert.equal(refused.status, 403)
  assert.match(cacheStatus(refused), /detail=PURGE-REFUSED/)
  assert.match(refused.body, /not in trust\.allow/)
  assert.ok(!origin.received.some((r) => r.method === 'PURGE'), 'a refused PURGE is not forwarded either')
  assert.ok(proxy.logs.some((l) => l.level === 'warn' && /purge refused/.test(l.msg)), 'the refusal is logged')
  await assertStillHit(proxy.url, origin, '/t', 1)

  const soft = await purge(proxy.url, '/t', { 'lacquer-soft-purge': '1' })
  assert.equal(soft.status, 403)
  const tagged = await purge(proxy.url, '/t', { 'xkey-purge': 'anything' })
  assert.equal(tagged.status, 403)

  const viaAdmin = await adminPurge(proxy.adminUrl, { urls: [`http://${host}/t`], hosts: [host.split(':')[0]] })
  assert.equal(viaAdmin.status, 403)
  assert.equal(viaAdmin.body.ok, false)
  assert.match(viaAdmin.body.errors.join(' '), /not in trust\.allow/)
  const bans = await admin(proxy.adminUrl, 'GET', '/bans')
  assert.equal(bans.status, 403)
  const reload = await admin(proxy.adminUrl, 'POST', '/reload')
  assert.equal(reload.status, 403)
  assert.equal((await admin(proxy.adminUrl, 'GET', '/stats')).status, 200, '/stats stays open')

  await assertStillHit(proxy.url, origin, '/t', 1)
  assert.equal(proxy.proxy.counters.purges, 0)
})

test('trust.token: the bearer token is accepted from outside trust.allow; a wrong or missing token is 403', async () => {
  const { origin, proxy } = await setup({ trust: { allow: ['10.0.0.0/8'], token: TOKEN } })
  const host = new URL(proxy.url).host
  await store(proxy.url, '/a')
  await store(proxy.url, '/b')

  const wrong = await purge(proxy.url, '/a', { authorization: `Bearer ${TOKEN}x` })
  assert.equal(wrong.status, 403)
  assert.match(wrong.body, /token is not valid/)
  const notBearer = await purge(proxy.url, '/a', { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` })
  assert.equal(notBearer.status, 403)
  const missing = await purge(proxy.url, '/a')
  assert.equal(missing.status, 403)
  const adminWrong = await adminPurge(proxy.adminUrl, { urls: [`http://${host}/a`] }, { authorization: 'Bearer nope-nope-nope-nope' })
  assert.equal(adminWrong.status, 403)
  await assertStillHit(proxy.url, origin, '/a', 1)

  const ok = await purge(proxy.url, '/a', { authorization: `Bearer ${TOKEN}` })
  assert.equal(ok.status, 200, ok.body)
  assert.equal(JSON.parse(ok.body).invalidated.urls, 1)
  const after = await request(`${proxy.url}/a`)
  assert.ok(!isHit(after), cacheStatus(after))
  assert.equal(originGets(origin, '/a'), 2)

  const adminOk = await adminPurge(proxy.adminUrl, { urls: [`http://${host}/b`] }, { authorization: `bearer ${TOKEN}` })
  assert.equal(adminOk.status, 200, adminOk.text)
  assert.equal(adminOk.body.invalidated.urls, 1)
  const bans = await admin(proxy.adminUrl, 'GET', '/bans', { headers: { authorization: `Bearer ${TOKEN}` } })
  assert.equal(bans.status, 200)
  assert.deepEqual(bans.body.bans, [])
})

test('require address-and-token: a loopback caller without the token gets 401, with it 200', async () => {
  const { origin, proxy } = await setup({ trust: { token: TOKEN, require: 'address-and-token' } })
  const host = new URL(proxy.url).host
  await store(proxy.url, '/c')
  const noToken = await purge(proxy.url, '/c')
  assert.equal(noToken.status, 401)
  assert.match(noToken.body, /bearer token is required/)
  const wrongToken = await purge(proxy.url, '/c', { authorization: 'Bearer wrong-wrong-wrong-wrong' })
  assert.equal(wrongToken.status, 401)
  const adminNoToken = await adminPurge(proxy.adminUrl, { urls: [`http://${host}/c`] })
  assert.equal(adminNoToken.status, 401)
  assert.equal((await admin(proxy.adminUrl, 'GET', '/bans')).status, 401)
  await assertStillHit(proxy.url, origin, '/c', 1)

  const ok = await purge(proxy.url, '/c', { authorization: `Bearer ${TOKEN}` })
  assert.equal(ok.status, 200, ok.body)
  assert.equal(JSON.parse(ok.body).invalidated.urls, 1)
  assert.ok(!isHit(await request(`${proxy.url}/c`)))
})

test('require address-and-token: the token from outside trust.allow is still 403', async () => {
  const { origin, proxy } = await setup({ trust: { allow: ['10.0.0.0/8'], token: TOKEN, require: 'address-and-token' } })
  await store(proxy.url, '/d')
  const res = await purge(proxy.url, '/d', { authorization: `Bearer ${TOKEN}` })
  assert.equal(res.status, 403)
  await assertStillHit(proxy.url, origin, '/d', 1)
})

async function hasIpv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen(0, '::1', () => server.close(() => resolve(true)))
  })
}

const ipv6 = await hasIpv6Loopback()

test('IPv6: Lacquer on [::1] trusts ::1 by default; an IPv4-only trust.allow refuses it', { skip: ipv6 ? false : 'no IPv6 loopback (::1) on this machine' }, async () => {
  const trusted = await setup({ listen: '[::1]:0', admin: '[::1]:0' })
  assert.match(trusted.proxy.url, /^http:\/\/\[::1\]:\d+$/)
  await store(trusted.proxy.url, '/six')
  const ok = await purge(trusted.proxy.url, '/six')
  assert.equal(ok.status, 200, ok.body)
  assert.equal(JSON.parse(ok.body).invalidated.urls, 1)
  assert.ok(!isHit(await request(`${trusted.proxy.url}/six`)))
  const adminOk = await admin(trusted.proxy.adminUrl, 'GET', '/bans')
  assert.equal(adminOk.status, 200)

  const v4only = await setup({ listen: '[::1]:0', admin: '[::1]:0', trust: { allow: ['127.0.0.0/8'] } })
  await store(v4only.proxy.url, '/six')
  const refused = await purge(v4only.proxy.url, '/six')
  assert.equal(refused.status, 403)
  assert.match(refused.body, /::1 is not in trust\.allow/)
  assert.equal((await admin(v4only.proxy.adminUrl, 'GET', '/bans')).status, 403)
  await assertStillHit(v4only.proxy.url, v4only.origin, '/six', 1)
})

test('invalidation.purgeMethod: false forwards PURGE to the origin like any other method', async () => {
  const { origin, proxy } = await setup({ invalidation: { purgeMethod: false } })
  await store(proxy.url, '/e')
  const res = await purge(proxy.url, '/e')
  assert.equal(origin.received.filter((r) => r.method === 'PURGE' && r.url === '/e').length, 1, 'the origin got the PURGE')
  assert.doesNotMatch(cacheStatus(res), /PURGED/)
})
