/**
 * s010: several origins per site. Directors spread fetches (round-robin, weighted random,
 * hash by cache key, fallback to the first healthy); health probes take an origin that goes
 * down out of its director and bring it back when it recovers; with every origin sick, a stale
 * copy is served if there is one, else a clear 503 with Retry-After; an origin whose
 * connections and queue are full sheds load with a 503. Real origins go down and up here.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { cacheStatus, request, startProxy, type TestProxy } from '../helpers/proxy.js'
import { type RestartableOrigin, startRestartableOrigin } from '../helpers/restartable-origin.js'
import { deferred, waitUntil } from '../helpers/rfc-scenario.js'

const toClose: Array<() => Promise<void>> = []
after(async () => { for (const close of toClose.reverse()) await close() })

async function origins(...names: string[]): Promise<RestartableOrigin[]> {
  const list = await Promise.all(names.map((n) => startRestartableOrigin(n)))
  for (const o of list) toClose.push(() => o.stop())
  return list
}

async function proxyFor(options: Parameters<typeof startProxy>[0]): Promise<TestProxy> {
  const proxy = await startProxy(options)
  toClose.push(() => proxy.close())
  return proxy
}

/** A fast probe: every 50 ms; healthy while 2 of the last 3 passed. */
const PROBE = { url: '/healthz', interval: '50ms', timeout: '500ms', window: 3, threshold: 2 }

async function stats(proxy: TestProxy) {
  return JSON.parse((await request(`${proxy.adminUrl}/stats`)).body) as {
    origins: { director: string; healthy: number; origins: Array<{ name: string; isHealthy: boolean; requests: number; probe: { good: number; last: string } | null }> }
  }
}

async function bodies(proxy: TestProxy, paths: string[]): Promise<string[]> {
  const out: string[] = []
  for (const path of paths) out.push((await request(`${proxy.url}${path}`)).body)
  return out
}

test('round-robin (the default): each origin in turn', async () => {
  const [a, b, c] = await origins('a', 'b', 'c')
  const proxy = await proxyFor({ origins: [a!.url, b!.url, c!.url] })
  const got = await bodies(proxy, Array.from({ length: 9 }, (_, i) => `/rr/${i}`))
  assert.deepEqual(got, ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c'])
  const s = await stats(proxy)
  assert.equal(s.origins.director, 'round-robin')
  assert.deepEqual(s.origins.origins.map((o) => [o.name, o.requests]), [['origin1', 3], ['origin2', 3], ['origin3', 3]])
})

test('random: in proportion to weight', async () => {
  const [light, heavy] = await origins('light', 'heavy')
  const proxy = await proxyFor({ origins: [{ url: light!.url, weight: 1 }, { url: heavy!.url, weight: 4 }], director: { type: 'random' } })
  const got = await bodies(proxy, Array.from({ length: 200 }, (_, i) => `/random/${i}`))
  const heavyShare = got.filter((b) => b === 'heavy').length
  assert.ok(heavyShare > 120 && heavyShare < 200, `heavy served ${heavyShare} of 200`)
})

test('hash: every request for one URL goes to the same origin; URLs spread over the origins', async () => {
  const [a, b] = await origins('a', 'b')
  const proxy = await proxyFor({ origins: [a!.url, b!.url], director: { type: 'hash' } })
  const paths = Array.from({ length: 40 }, (_, i) => `/hash/${i}`)
  const first = await bodies(proxy, paths)
  const second = await bodies(proxy, paths)
  assert.deepEqual(second, first)
  assert.ok(first.includes('a') && first.includes('b'), first.join())
})

test('fallback with probes: the first healthy origin; a sick one leaves until it is healthy again', async () => {
  const [primary, spare] = await origins('primary', 'spare')
  const proxy = await proxyFor({
    origins: [{ name: 'primary', url: primary!.url, probe: PROBE }, { name: 'spare', url: spare!.url, probe: PROBE }],
    director: { type: 'fallback' },
  })
  assert.deepEqual(await bodies(proxy, ['/f/1', '/f/2']), ['primary', 'primary'])
  await primary!.stop()
  await waitUntil(() => proxy.logs.some((l) => l.msg.startsWith('origin is sick') && l.fields?.origin === 'primary'), 3000, 'primary sick')
  const sick = await stats(proxy)
  assert.deepEqual(sick.origins.origins.map((o) => [o.name, o.isHealthy]), [['primary', false], ['spare', true]])
  assert.equal(sick.origins.healthy, 1)
  assert.match(sick.origins.origins[0]!.probe!.last, /ECONNREFUSED/)
  assert.deepEqual(await bodies(proxy, ['/f/3', '/f/4']), ['spare', 'spare'])
  await primary!.start()
  await waitUntil(() => proxy.logs.some((l) => l.msg.startsWith('origin is healthy again') && l.fields?.origin === 'primary'), 3000, 'primary healthy')
  assert.deepEqual(await bodies(proxy, ['/f/5']), ['primary'])
})

test('a probe that answers another status than expected makes the origin sick', async () => {
  const [a, b] = await origins('a', 'b')
  const proxy = await proxyFor({ origins: [{ url: a!.url, probe: PROBE }, { url: b!.url, probe: PROBE }] })
  a!.healthStatus = 503
  await waitUntil(() => proxy.logs.some((l) => l.msg.startsWith('origin is sick')), 3000, 'a sick')
  assert.deepEqual(await bodies(proxy, ['/p/1', '/p/2', '/p/3']), ['b', 'b', 'b'])
  assert.equal((await stats(proxy)).origins.origins[0]!.probe!.last, '503')
})

test('every origin sick: a stale copy is served if there is one, else a clear 503; fresh again after the restart', async () => {
  const [app] = await origins('app')
  let version = 0
  app!.handler = (_req, res) => {
    version++
    // already stale on arrival (Age past max-age), with a validator so it is stored
    res.writeHead(200, { 'cache-control': 'max-age=1', age: version === 1 ? '5' : '0', etag: `"v${version}"` })
    res.end(`v${version}`)
  }
  const proxy = await proxyFor({ origin: { url: app!.url, probe: PROBE } })
  assert.equal((await request(`${proxy.url}/page`)).body, 'v1')
  await app!.stop()
  await waitUntil(() => proxy.logs.some((l) => l.msg.startsWith('origin is sick')), 3000, 'the origin sick')
  const stale = await request(`${proxy.url}/page`)
  assert.equal(stale.status, 200)
  assert.equal(stale.body, 'v1')
  assert.match(cacheStatus(stale), /hit; fwd=stale.*detail=NO-HEALTHY-ORIGIN/)
  const cold = await request(`${proxy.url}/never-fetched`)
  assert.equal(cold.status, 503)
  assert.equal(cold.headers['lacquer-error'], 'ERR_ORIGIN_ALL_SICK')
  assert.equal(cold.headers['retry-after'], '5')
  assert.match(cacheStatus(cold), /detail=NO-HEALTHY-ORIGIN/)
  assert.match(cold.body, /no healthy origin/)
  assert.equal(app!.served, 1, 'nothing was sent to the sick origin')
  await app!.start()
  await waitUntil(() => proxy.logs.some((l) => l.msg.startsWith('origin is healthy again')), 3000, 'the origin healthy')
  const fresh = await request(`${proxy.url}/page`)
  assert.equal(fresh.body, 'v2')
  assert.doesNotMatch(cacheStatus(fresh), /fwd=stale; .*detail/)
})

test('connections 1, maxQueue 1: a third concurrent request is refused at once with 503 and Retry-After', async () => {
  const [app] = await origins('app')
  const gate = deferred()
  app!.handler = async (_req, res) => { await gate.promise; res.writeHead(200, { 'cache-control': 'no-store' }); res.end('done') }
  const proxy = await proxyFor({ origin: { url: app!.url, connections: 1, maxQueue: 1 } })
  const first = request(`${proxy.url}/q/1`)
  const second = request(`${proxy.url}/q/2`)
  await waitUntil(() => app!.served === 1, 2000, 'the first request at the origin')
  const third = await request(`${proxy.url}/q/3`)
  assert.equal(third.status, 503)
  assert.equal(third.headers['lacquer-error'], 'ERR_ORIGIN_QUEUE_FULL')
  assert.equal(third.headers['retry-after'], '1')
  assert.match(cacheStatus(third), /detail=ORIGIN-QUEUE-FULL/)
  gate.resolve()
  assert.equal((await first).body, 'done')
  assert.equal((await second).body, 'done')
  assert.equal(app!.served, 2)
})
