/**
 * i004: bans through the admin API. Prefixes, patterns (regular expressions over path and
 * query), whole hosts and a host-scoped prefix; `wait: true` answers after the sweep with the
 * counts. GET /bans shows bans still waiting for the sweeper and empties after it; a ban is
 * applied lazily on lookup (the very next lookup of a matching object is a miss, sweeper or
 * not); objects stored after a ban are not affected by it.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy } from '../helpers/proxy.js'
import { admin, adminPurge, countingRoute, eventually, heldScanStore, originGets, startProxyWithStore } from '../helpers/invalidation.js'

let origin: TestOrigin
let proxy: TestProxy

before(async () => {
  origin = await startOrigin({ '*': countingRoute() })
  proxy = await startProxy({ origin: origin.url, invalidation: { banSweepInterval: '50ms' } })
})
after(async () => { await proxy.close(); await origin.close() })

const get = (base: string, path: string, host?: string) => request(`${base}${path}`, { headers: host ? { host } : {} })

async function stored(base: string, path: string, host?: string): Promise<void> {
  await get(base, path, host)
  const again = await get(base, path, host)
  assert.ok(isHit(again), `${host ?? ''}${path} stored: ${cacheStatus(again)}`)
}

async function assertMiss(base: string, path: string, host?: string): Promise<void> {
  const res = await get(base, path, host)
  assert.ok(!isHit(res), `${host ?? ''}${path} must be invalidated: ${cacheStatus(res)}`)
}

async function assertHit(base: string, path: string, host?: string): Promise<void> {
  const res = await get(base, path, host)
  assert.ok(isHit(res), `${host ?? ''}${path} must stay stored: ${cacheStatus(res)}`)
}

test('prefix ban with wait: the receipt counts what the sweep invalidated; the query is part of what is matched', async () => {
  for (const path of ['/shop/a', '/shop/b', '/shop/a?page=2', '/shopping', '/other/shop/a']) await stored(proxy.url, path)
  const res = await adminPurge(proxy.adminUrl, { prefixes: ['/shop/'], wait: true })
  assert.equal(res.status, 200, res.text)
  assert.equal(res.body.isComplete, true)
  assert.deepEqual(res.body.invalidated, { urls: 0, tags: 0, bans: 3 })
  assert.equal(res.body.bans.length, 1)
  assert.equal(res.body.bans[0].prefix, '/shop/')
  assert.equal(res.body.bans[0].invalidated, 3)
  for (const path of ['/shop/a', '/shop/b', '/shop/a?page=2']) await assertMiss(proxy.url, path)
  for (const path of ['/shopping', '/other/shop/a']) await assertHit(proxy.url, path)
  assert.equal(originGets(origin, '/shop/a'), 2)
  assert.equal(originGets(origin, '/shopping'), 1)
})

test('pattern ban (regular expression over path and query)', async () => {
  for (const path of ['/item/1', '/item/22', '/item/abc', '/item/1?x=1']) await stored(proxy.url, path)
  const res = await adminPurge(proxy.adminUrl, { patterns: ['^/item/[0-9]+$'], wait: true })
  assert.equal(res.status, 200, res.text)
  assert.deepEqual(res.body.invalidated, { urls: 0, tags: 0, bans: 2 })
  assert.equal(res.body.bans[0].pattern, '^/item/[0-9]+$')
  await assertMiss(proxy.url, '/item/1')
  await assertMiss(proxy.url, '/item/22')
  await assertHit(proxy.url, '/item/abc')
  await assertHit(proxy.url, '/item/1?x=1')
})

test('host ban: a whole site, and only that site (any port of it)', async () => {
  await stored(proxy.url, '/h1', 'shop.example')
  await stored(proxy.url, '/h2', 'shop.example:8080')
  await stored(proxy.url, '/h1', 'blog.example')
  const res = await adminPurge(proxy.adminUrl, { hosts: ['shop.example'], wait: true })
  assert.equal(res.status, 200, res.text)
  assert.deepEqual(res.body.invalidated, { urls: 0, tags: 0, bans: 2 })
  await assertMiss(proxy.url, '/h1', 'shop.example')
  await assertMiss(proxy.url, '/h2', 'shop.example:8080')
  await assertHit(proxy.url, '/h1', 'blog.example')
})

test('host-scoped prefix ban: the prefix on that site only', async () => {
  await stored(proxy.url, '/p/1', 'one.example')
  await stored(proxy.url, '/p/1', 'two.example')
  await stored(proxy.url, '/q/1', 'one.example')
  const res = await adminPurge(proxy.adminUrl, { host: 'one.example', prefixes: ['/p/'], wait: true })
  assert.equal(res.status, 200, res.text)
  assert.deepEqual(res.body.invalidated, { urls: 0, tags: 0, bans: 1 })
  assert.equal(res.body.bans[0].host, 'one.example')
  await assertMiss(proxy.url, '/p/1', 'one.example')
  await assertHit(proxy.url, '/p/1', 'two.example')
  await assertHit(proxy.url, '/q/1', 'one.example')
})

test('a ban issued without waiting: the very next lookup of a matching object is a miss', async () => {
  await stored(proxy.url, '/now/a')
  const res = await adminPurge(proxy.adminUrl, { prefixes: ['/now/'] })
  assert.equal(res.status, 200, res.text)
  assert.equal(res.body.bans.length, 1)
  await assertMiss(proxy.url, '/now/a')
  assert.equal(originGets(origin, '/now/a'), 2)
})

test('with the sweeper held back: GET /bans lists the pending ban, lookups apply it lazily, later objects are not affected, and the sweep empties the list', async () => {
  const held = heldScanStore()
  const lazy = await startProxyWithStore({ origin: origin.url, invalidation: { banSweepInterval: '50ms' } }, held.store)
  try {
    await stored(lazy.url, '/lazy/a')
    await stored(lazy.url, '/lazy/b')
    await stored(lazy.url, '/kept')
    const res = await adminPurge(lazy.adminUrl, { prefixes: ['/lazy/'] })
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.isComplete, false)
    assert.deepEqual(res.body.invalidated, { urls: 0, tags: 0, bans: 0 }, 'nothing swept yet')
    const id = res.body.bans[0].id

    const pending = await admin(lazy.adminUrl, 'GET', '/bans')
    assert.equal(pending.status, 200)
    assert.equal(pending.body.bans.length, 1)
    assert.equal(pending.body.bans[0].id, id)
    assert.equal(pending.body.bans[0].prefix, '/lazy/')
    assert.equal(pending.body.bans[0].mode, 'hard')
    assert.equal(pending.body.sweeper.isRunning, true)

    // applied on lookup, although the sweeper has not reached the object
    const gets = originGets(origin, '/lazy/a')
    await assertMiss(lazy.url, '/lazy/a')
    assert.equal(originGets(origin, '/lazy/a'), gets + 1)
    // the object stored by that miss came after the ban: not affected
    await assertHit(lazy.url, '/lazy/a')
    await stored(lazy.url, '/lazy/new')
    await assertHit(lazy.url, '/kept')
    const counted = await admin(lazy.adminUrl, 'GET', '/bans')
    assert.equal(counted.body.bans[0].invalidated, 1, 'the lazy application is counted on the ban')

    held.release()
    await eventually(async () => (await admin(lazy.adminUrl, 'GET', '/bans')).body.bans.length === 0, 3000, 'the sweep to drop the ban')
    await assertMiss(lazy.url, '/lazy/b')
    await assertHit(lazy.url, '/lazy/new')
    await assertHit(lazy.url, '/lazy/a')
    const swept = await admin(lazy.adminUrl, 'GET', '/bans')
    assert.ok(swept.body.sweeper.passes >= 1)
  } finally {
    held.release()
    await lazy.close()
  }
})

test('GET /bans empties after the sweeper on a normal store', async () => {
  await stored(proxy.url, '/sweep/a')
  const res = await adminPurge(proxy.adminUrl, { patterns: ['^/sweep/'] })
  assert.equal(res.status, 200)
  await eventually(async () => (await admin(proxy.adminUrl, 'GET', '/bans')).body.bans.length === 0, 3000, 'the ban list to empty')
  await assertMiss(proxy.url, '/sweep/a')
})
