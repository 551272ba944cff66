/**
 * i001: `PURGE <url>` on the proxy port from loopback (trusted by default) invalidates every
 * stored variant of the URL: each Vary variant, the GET object HEAD is answered from, each
 * user's entry on a perUser rule, both schemes (X-Forwarded-Proto http and https). The query
 * is matched exactly after the cache key's normalisation (tracking parameters dropped, a
 * rule's key.query: sort), a different query is not purged, the receipt counts what was
 * invalidated, and the next GET is a miss that reaches the origin. The admin API's
 * POST /purge {urls} does the same for absolute URLs.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { cacheStatus, isHit, request } from '../helpers/proxy.js'
import { useOriginAndProxy } from '../helpers/scenario-setup.js'
import { adminPurge, countingRoute, originGets, purge, rawRequest } from '../helpers/invalidation.js'

const env = useOriginAndProxy({
  rules: [
    { match: { path: '/user/**' }, perUser: { cookie: 'session' }, ttl: '5m' },
    { match: { path: '/sorted' }, key: { query: 'sort' } },
    { match: { path: '/sorted-get', methods: ['GET', 'HEAD'] }, key: { query: 'sort' } },
  ],
})

const get = (path: string, headers: Record<string, string> = {}) => env.get(path, headers)
const host = () => new URL(env.proxy.url).host

async function stored(path: string, headers: Record<string, string> = {}): Promise<void> {
  await get(path, headers)
  const again = await get(path, headers)
  assert.ok(isHit(again), `${path} ${JSON.stringify(headers)} should be stored: ${cacheStatus(again)}`)
}

test('PURGE invalidates every Vary variant, in both schemes, and the GET object HEAD was answered from', async () => {
  env.origin.on('/v', countingRoute((req) => ({ vary: 'Accept-Language', 'content-language': String(req.headers['accept-language']) })))
  env.origin.on('/v-other', countingRoute())
  const variants: Array<Record<string, string>> = [
    { 'accept-language': 'en' }, { 'accept-language': 'fr' },
    { 'accept-language': 'en', 'x-forwarded-proto': 'https' }, { 'accept-language': 'fr', 'x-forwarded-proto': 'https' },
  ]
  for (const headers of variants) await stored('/v', headers)
  await stored('/v-other')
  assert.equal(originGets(env.origin, '/v'), 4, 'four variants fetched')
  const head = await request(`${env.proxy.url}/v`, { method: 'HEAD', headers: { 'accept-language': 'en' } })
  assert.ok(isHit(head), `HEAD answered from the stored GET: ${cacheStatus(head)}`)

  const res = await purge(env.proxy.url, '/v')
  assert.equal(res.status, 200, res.body)
  assert.match(String(res.headers['content-type']), /application\/json/)
  assert.match(cacheStatus(res), /detail=PURGED/)
  const receipt = JSON.parse(res.body)
  assert.equal(receipt.ok, true)
  assert.equal(receipt.mode, 'hard')
  assert.deepEqual(receipt.invalidated, { urls: 4, tags: 0, bans: 0 })
  assert.ok(!env.origin.received.some((r) => r.method === 'PURGE'), 'PURGE is answered by Lacquer, never forwarded')

  const headAfter = await request(`${env.proxy.url}/v`, { method: 'HEAD', headers: { 'accept-language': 'en' } })
  assert.ok(!isHit(headAfter), `HEAD after the purge is not a hit: ${cacheStatus(headAfter)}`)
  let n = 4
  for (const headers of variants) {
    const after = await get('/v', headers)
    assert.ok(!isHit(after), `${JSON.stringify(headers)} must be a miss: ${cacheStatus(after)}`)
    n++
    assert.match(after.body, /^\/v GET #([6-9])$/, 'a new body from the origin (#5 was the HEAD, forwarded)')
    assert.equal(originGets(env.origin, '/v'), n)
  }
  const other = await get('/v-other')
  assert.ok(isHit(other), `another URL is untouched: ${cacheStatus(other)}`)
  assert.equal(originGets(env.origin, '/v-other'), 1)
})

test('PURGE invalidates every user\'s entry on a perUser rule, and the anonymous one', async () => {
  env.origin.on('/user/page', countingRoute())
  const users: Array<Record<string, string>> = [{ cookie: 'session=alice' }, { cookie: 'session=bob' }, {}]
  for (const headers of users) await stored('/user/page', headers)
  assert.equal(originGets(env.origin, '/user/page'), 3)

  const res = await purge(env.proxy.url, '/user/page')
  assert.equal(res.status, 200, res.body)
  assert.deepEqual(JSON.parse(res.body).invalidated, { urls: 3, tags: 0, bans: 0 })
  for (const headers of users) {
    const after = await get('/user/page', headers)
    assert.ok(!isHit(after), `${JSON.stringify(headers)}: ${cacheStatus(after)}`)
  }
  assert.equal(originGets(env.origin, '/user/page'), 6, 'each user went to the origin again')
})

test('the query is matched after normalisation: tracking parameters dropped; another query is not purged', async () => {
  env.origin.on('/q', countingRoute())
  await stored('/q?id=1&utm_source=news')
  assert.equal(originGets(env.origin, '/q?id=1'), 1, 'the origin saw the normalised URL')
  await stored('/q?id=2')
  await stored('/q')

  const res = await purge(env.proxy.url, '/q?utm_source=other&id=1&fbclid=abc')
  assert.equal(res.status, 200, res.body)
  assert.deepEqual(JSON.parse(res.body).invalidated, { urls: 1, tags: 0, bans: 0 })
  const purged = await get('/q?id=1')
  assert.ok(!isHit(purged), cacheStatus(purged))
  assert.equal(originGets(env.origin, '/q?id=1'), 2)
  for (const path of ['/q?id=2', '/q']) {
    const kept = await get(path)
    assert.ok(isHit(kept), `${path} is another entry and stays: ${cacheStatus(kept)}`)
  }
  assert.equal(originGets(env.origin, '/q?id=2'), 1)
  assert.equal(originGets(env.origin, '/q'), 1)
})

test('a rule with key.query: sort makes ?b=2&a=1 and ?a=1&b=2 one entry, purged by either spelling', async () => {
  env.origin.on('/sorted', countingRoute())
  await stored('/sorted?b=2&a=1')
  const same = await get('/sorted?a=1&b=2')
  assert.ok(isHit(same), `the other order is the same entry: ${cacheStatus(same)}`)
  await stored('/sorted?a=1&b=3')
  assert.equal(originGets(env.origin, '/sorted?a=1&b=2'), 1)

  const res = await purge(env.proxy.url, '/sorted?b=2&a=1')
  assert.deepEqual(JSON.parse(res.body).invalidated, { urls: 1, tags: 0, bans: 0 })
  const after = await get('/sorted?a=1&b=2')
  assert.ok(!isHit(after), cacheStatus(after))
  assert.equal(originGets(env.origin, '/sorted?a=1&b=2'), 2)
  const kept = await get('/sorted?a=1&b=3')
  assert.ok(isHit(kept), `a different query is not purged: ${cacheStatus(kept)}`)
})

test('admin POST /purge {urls}: either scheme\'s URL purges both schemes; the receipt counts the entries', async () => {
  env.origin.on('/a', countingRoute())
  await stored('/a')
  await stored('/a', { 'x-forwarded-proto': 'https' })
  await stored('/a?utm_campaign=x&page=2')
  const res = await adminPurge(env.proxy.adminUrl, { urls: [`https://${host()}/a`, `http://${host()}/a?page=2&utm_medium=mail`] })
  assert.equal(res.status, 200, res.text)
  assert.equal(res.body.ok, true)
  assert.equal(res.body.mode, 'hard')
  assert.deepEqual(res.body.invalidated, { urls: 3, tags: 0, bans: 0 })
  assert.equal(res.body.isComplete, true)
  for (const [path, headers] of [['/a', {}], ['/a', { 'x-forwarded-proto': 'https' }], ['/a?page=2', {}]] as const) {
    const after = await get(path, headers)
    assert.ok(!isHit(after), `${path} ${JSON.stringify(headers)}: ${cacheStatus(after)}`)
  }
  assert.equal(originGets(env.origin, '/a'), 4)
  assert.equal(originGets(env.origin, '/a?page=2'), 2)
})

test('PURGE of a URL with nothing stored answers 200 with a zero count', async () => {
  const res = await purge(env.proxy.url, '/never-stored')
  assert.equal(res.status, 200)
  assert.deepEqual(JSON.parse(res.body).invalidated, { urls: 0, tags: 0, bans: 0 })
  assert.equal(env.origin.count('/never-stored'), 0)
})

test('admin POST /purge finds an entry of a rule limited to GET and HEAD with key.query: sort', async () => {
  env.origin.on('/sorted-get', countingRoute())
  await stored('/sorted-get?b=2&a=1')
  const res = await adminPurge(env.proxy.adminUrl, { urls: [`http://${host()}/sorted-get?b=2&a=1`] })
  assert.deepEqual(res.body.invalidated, { urls: 1, tags: 0, bans: 0 })
  const after = await get('/sorted-get?a=1&b=2')
  assert.ok(!isHit(after), cacheStatus(after))
})

test('PURGE on the proxy port finds an entry of a rule limited to GET and HEAD with key.query: sort', async () => {
  await stored('/sorted-get?d=4&c=3')
  const res = await purge(env.proxy.url, '/sorted-get?d=4&c=3')
  assert.deepEqual(JSON.parse(res.body).invalidated, { urls: 1, tags: 0, bans: 0 })
  const after = await get('/sorted-get?c=3&d=4')
  assert.ok(!isHit(after), cacheStatus(after))
})

/** Request targets that WHATWG URL parsing would rewrite: quotes and braces percent-encoded, dot segments resolved. */
const RAW_TARGETS = ["/raw/q?x='y'", '/raw/q?q="x"', '/raw/{id}', '/raw/a/../b']

async function storedRaw(path: string): Promise<void> {
  await rawRequest(env.proxy.url, path)
  const again = await rawRequest(env.proxy.url, path)
  assert.ok(isHit(again), `${path} stored: ${cacheStatus(again)}`)
  assert.ok(env.origin.received.some((r) => r.url === path), `the origin saw ${path} as sent`)
}

test('PURGE on the proxy port purges a request target with quotes, braces or dot segments exactly as stored', async () => {
  env.origin.on('*', countingRoute())
  for (const path of RAW_TARGETS) {
    await storedRaw(path)
    const res = await rawRequest(env.proxy.url, path, 'PURGE')
    assert.deepEqual(JSON.parse(res.body).invalidated, { urls: 1, tags: 0, bans: 0 }, path)
    assert.ok(!isHit(await rawRequest(env.proxy.url, path)), path)
  }
})

test('admin POST /purge {urls} purges a request target with quotes, braces or dot segments', async () => {
  env.origin.on('*', countingRoute())
  const missed: string[] = []
  for (const path of RAW_TARGETS) {
    await storedRaw(path)
    const res = await adminPurge(env.proxy.adminUrl, { urls: [`${env.proxy.url}${path}`] })
    assert.equal(res.status, 200, res.text)
    if (res.body.invalidated.urls !== 1 || isHit(await rawRequest(env.proxy.url, path))) missed.push(path)
  }
  assert.deepEqual(missed, [], 'not purged')
})
