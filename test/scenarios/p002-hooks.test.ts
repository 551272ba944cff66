/**
 * p002: the TypeScript policy hooks (the second argument of createProxy) in front of a real
 * origin. recv answers (synth), passes, or falls through to the built-in policy; hash adds key
 * parts; hit may force a refetch; miss may pass; deliver edits or replaces the response;
 * backendRequest edits what the origin receives; backendResponse sets a lifetime or refuses to
 * store; backendError answers for a failing origin or serves the stale object.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Policy } from '../../src/index.js'
import { getFirst, has } from '../../src/http-cache/header-list.js'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy, type TestResponse } from '../helpers/proxy.js'
import { PAST_ONE_SECOND_MS, serveNumbered } from '../helpers/rfc-scenario.js'
import { getThrough, useOriginAndProxy } from '../helpers/scenario-setup.js'

/** What the hooks saw, by hook name. */
const seen: Record<string, string[]> = {}
const saw = (hook: string, what: string) => { (seen[hook] ??= []).push(what) }

const policy: Policy = {
  recv(req) {
    saw('recv', `${req.path} rule=${req.rule?.name ?? '-'}`)
    if (req.path === '/blocked') return { action: 'synth', status: 403, reason: 'Blocked by policy' }
    if (req.path === '/recv-pass') return { action: 'pass', detail: 'RULE-PASS' }
    return undefined
  },
  hash(req) {
    if (req.path !== '/tenant') return undefined
    return { action: 'lookup', keyParts: [`tenant=${getFirst(req.headers, 'x-tenant') ?? ''}`] }
  },
  hit(req, object) {
    saw('hit', `${req.path} ${object.status}`)
    return has(req.headers, 'x-refresh') ? { action: 'miss' } : undefined
  },
  miss(req) {
    saw('miss', req.path)
    return req.path === '/miss-pass' ? { action: 'pass', detail: 'RESPONSE-PRIVATE' } : undefined
  },
  deliver(req) {
    if (req.path === '/replaced' && has(req.headers, 'x-block')) return { action: 'synth', status: 451, reason: 'Unavailable here' }
    if (req.path === '/decorated') return { action: 'deliver', edits: { set: { 'x-served-by': 'hook' }, unset: ['x-internal'] } }
    return undefined
  },
  backendRequest(req) {
    if (!req.path.startsWith('/bereq')) return undefined
    return { action: 'fetch', edits: { set: { 'x-origin-secret': 's3cr3t', 'x-client': 'replaced' }, unset: ['x-debug'] } }
  },
  backendResponse(res) {
    if (res.request.path === '/beresp-ttl') return { action: 'store', ttlMs: 60_000 }
    if (res.request.path === '/beresp-dont') return { action: 'dontStore', detail: 'RESPONSE-PRIVATE', isShareable: false }
    return undefined
  },
  backendError(err) {
    if (err.request.path.startsWith('/err/synth')) return { action: 'synth', status: 503, reason: 'Down for maintenance' }
    if (err.request.path.startsWith('/err/stale')) return { action: 'serveStale' }
    return undefined
  },
}

const env = useOriginAndProxy({ rules: [{ name: 'ruled', match: { path: '/ruled-pass' }, pass: true }] }, policy)
const { get } = env

describe('recv', () => {
  test('synth answers with the status and reason, and the origin is never asked', async () => {
    serveNumbered(env.origin, '/blocked', { 'cache-control': 'max-age=60' })
    const res = await get('/blocked')
    assert.equal(res.status, 403)
    assert.match(res.body, /Blocked by policy/)
    assert.equal(env.origin.count('/blocked'), 0)
    assert.equal((await get('/blocked')).status, 403)
    assert.equal(env.origin.count('/blocked'), 0)
  })

  test('pass forwards every request with the hook\'s Cache-Status detail, and nothing is stored', async () => {
    serveNumbered(env.origin, '/recv-pass', { 'cache-control': 'public, max-age=60' })
    await get('/recv-pass')
    const second = await get('/recv-pass')
    assert.ok(!isHit(second))
    assert.match(cacheStatus(second), /fwd=bypass/)
    assert.match(cacheStatus(second), /detail=RULE-PASS/)
    assert.equal(second.body, '/recv-pass #2')
    assert.equal(env.origin.count('/recv-pass'), 2)
  })

  test('undefined falls through to the built-in policy: a cookie still passes, a rule still applies, caching works', async () => {
    serveNumbered(env.origin, '/fall-through', { 'cache-control': 'max-age=60' })
    const withCookie = await get('/fall-through', { cookie: 'session=abc' })
    assert.match(cacheStatus(withCookie), /detail=REQUEST-COOKIE/)
    assert.equal(env.origin.received.at(-1)!.headers.cookie, 'session=abc')
    await get('/fall-through')
    assert.ok(isHit(await get('/fall-through')), 'a cookie-less request is looked up and stored by the built-in policy')
    assert.equal(env.origin.count('/fall-through'), 2)

    serveNumbered(env.origin, '/ruled-pass', { 'cache-control': 'max-age=60' })
    const ruled = await get('/ruled-pass')
    assert.match(cacheStatus(ruled), /detail=RULE-PASS/)
    assert.ok(seen.recv!.includes('/ruled-pass rule=ruled'), 'the hook sees the matched rule')
  })
})

test('hash keyParts keep separate entries for different parts and share one for the same parts', async () => {
  env.origin.on('/tenant', (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
    res.end(`tenant ${req.headers['x-tenant'] ?? 'none'}`)
  })
  assert.equal((await get('/tenant', { 'x-tenant': 'acme' })).body, 'tenant acme')
  assert.equal((await get('/tenant', { 'x-tenant': 'globex' })).body, 'tenant globex')
  assert.equal((await get('/tenant')).body, 'tenant none')
  const acme = await get('/tenant', { 'x-tenant': 'acme' })
  assert.ok(isHit(acme), cacheStatus(acme))
  assert.equal(acme.body, 'tenant acme')
  const globex = await get('/tenant', { 'x-tenant': 'globex' })
  assert.ok(isHit(globex))
  assert.equal(globex.body, 'tenant globex')
  assert.equal(env.origin.count('/tenant'), 3)
})

test('a hash hook on a perUser route never lets one user get another user\'s copy', async () => {
  // the policy guide's example: a hash hook adding a country to every key, and a perUser rule
  // (here with a ttl, as the origin sends no freshness information)
  const proxy = await startProxy({ origin: env.origin.url, rules: [{ match: { path: '/account/**' }, perUser: { cookie: 'session' }, ttl: '60s' }] }, {
    hash: (req) => ({ action: 'lookup', keyParts: [`country=${getFirst(req.headers, 'x-country') ?? '-'}`] }),
  })
  try {
    env.origin.on('/account/orders', (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end(`orders of ${req.headers.cookie ?? 'nobody'}`)
    })
    const alice = await request(`${proxy.url}/account/orders`, { headers: { cookie: 'session=alice' } })
    assert.equal(alice.body, 'orders of session=alice')
    const bob = await request(`${proxy.url}/account/orders`, { headers: { cookie: 'session=bob' } })
    assert.equal(bob.body, 'orders of session=bob', `bob got: ${bob.body} (${cacheStatus(bob)})`)
    const anonymous = await request(`${proxy.url}/account/orders`)
    assert.equal(anonymous.body, 'orders of nobody', `an anonymous client got: ${anonymous.body} (${cacheStatus(anonymous)})`)
  } finally {
    await proxy.close()
  }
})

test('hit returning miss forces a refetch, and the refetched response replaces the stored one', async () => {
  serveNumbered(env.origin, '/refresh', { 'cache-control': 'max-age=60' })
  await get('/refresh')
  assert.equal((await get('/refresh')).body, '/refresh #1')
  assert.ok(seen.hit!.includes('/refresh 200'), 'the hit hook sees the stored object')
  const forced = await get('/refresh', { 'x-refresh': '1' })
  assert.ok(!isHit(forced), cacheStatus(forced))
  assert.equal(forced.body, '/refresh #2')
  assert.equal(env.origin.count('/refresh'), 2)
  const after = await get('/refresh')
  assert.ok(isHit(after))
  assert.equal(after.body, '/refresh #2')
})

test('miss returning pass forwards without storing, with the hook\'s detail', async () => {
  serveNumbered(env.origin, '/miss-pass', { 'cache-control': 'max-age=60' })
  const first = await get('/miss-pass')
  assert.match(cacheStatus(first), /detail=RESPONSE-PRIVATE/)
  assert.doesNotMatch(cacheStatus(first), /; stored/)
  const second = await get('/miss-pass')
  assert.ok(!isHit(second))
  assert.equal(second.body, '/miss-pass #2')
  assert.equal(env.origin.count('/miss-pass'), 2)
  assert.deepEqual(seen.miss!.filter((p) => p === '/miss-pass'), ['/miss-pass', '/miss-pass'])
})

describe('deliver', () => {
  test('edits set and unset fields of what the client gets, on a miss and on a hit', async () => {
    serveNumbered(env.origin, '/decorated', { 'cache-control': 'max-age=60', 'x-internal': 'build 42' })
    const miss = await get('/decorated')
    const hit = await get('/decorated')
    assert.ok(isHit(hit))
    for (const res of [miss, hit]) {
      assert.equal(res.headers['x-served-by'], 'hook')
      assert.equal(res.headers['x-internal'], undefined)
      assert.equal(res.body, '/decorated #1')
    }
  })

  test('synth replaces the response, on a miss and on a hit; the stored object is untouched', async () => {
    serveNumbered(env.origin, '/replaced', { 'cache-control': 'max-age=60' })
    const first = await get('/replaced', { 'x-block': '1' })
    assert.equal(first.status, 451)
    assert.match(first.body, /Unavailable here/)
    assert.doesNotMatch(first.body, /#1/)
    const second = await get('/replaced', { 'x-block': '1' })
    assert.equal(second.status, 451)
    assert.match(second.body, /Unavailable here/)
    const unblocked = await get('/replaced')
    assert.equal(unblocked.status, 200)
    assert.equal(unblocked.body, '/replaced #1')
    assert.ok(isHit(unblocked), cacheStatus(unblocked))
    assert.equal(env.origin.count('/replaced'), 1)
  })
})

test('backendRequest edits reach the origin (looked-up and passed requests) and not the client', async () => {
  serveNumbered(env.origin, '/bereq', { 'cache-control': 'max-age=60' })
  const res = await get('/bereq', { 'x-debug': 'on', 'x-client': 'original', 'x-other': 'kept' })
  assert.equal(res.status, 200)
  assert.equal(res.headers['x-origin-secret'], undefined)
  const received = env.origin.received.filter((r) => r.url === '/bereq')[0]!.headers
  assert.equal(received['x-origin-secret'], 's3cr3t')
  assert.equal(received['x-client'], 'replaced')
  assert.equal(received['x-debug'], undefined)
  assert.equal(received['x-other'], 'kept')
  serveNumbered(env.origin, '/bereq-pass', { 'cache-control': 'max-age=60' })
  const passed = await get('/bereq-pass', { cookie: 'session=abc', 'x-debug': 'on' })
  assert.match(cacheStatus(passed), /detail=REQUEST-COOKIE/)
  const passedReceived = env.origin.received.filter((r) => r.url === '/bereq-pass')[0]!.headers
  assert.equal(passedReceived['x-origin-secret'], 's3cr3t')
  assert.equal(passedReceived['x-debug'], undefined)
  // other paths are untouched (the hook returned undefined)
  serveNumbered(env.origin, '/plain-bereq', { 'cache-control': 'max-age=60' })
  await get('/plain-bereq', { 'x-debug': 'on' })
  assert.equal(env.origin.received.filter((r) => r.url === '/plain-bereq')[0]!.headers['x-debug'], 'on')
})

describe('backendResponse', () => {
  test('store with ttlMs caches a response without freshness information for that long', async () => {
    serveNumbered(env.origin, '/beresp-ttl', {})
    serveNumbered(env.origin, '/beresp-none', {})
    const first = await get('/beresp-ttl')
    assert.match(cacheStatus(first), /; stored/)
    const second = await get('/beresp-ttl')
    assert.ok(isHit(second), cacheStatus(second))
    assert.match(cacheStatus(second), /ttl=(59|60)(;|$)/)
    assert.equal(second.body, '/beresp-ttl #1')
    // the same response without the hook is not reused
    await get('/beresp-none')
    assert.ok(!isHit(await get('/beresp-none')))
    assert.equal(env.origin.count('/beresp-none'), 2)
  })

  test('dontStore keeps a cacheable response out of the store, with the hook\'s detail', async () => {
    serveNumbered(env.origin, '/beresp-dont', { 'cache-control': 'public, max-age=600' })
    const first = await get('/beresp-dont')
    assert.match(cacheStatus(first), /detail=RESPONSE-PRIVATE/)
    assert.doesNotMatch(cacheStatus(first), /; stored/)
    const second = await get('/beresp-dont')
    assert.ok(!isHit(second))
    assert.equal(second.body, '/beresp-dont #2')
    assert.equal(env.origin.count('/beresp-dont'), 2)
  })
})

describe('backendError', () => {
  // an origin of its own, closed once every stored object here is stale: "the origin is down"
  let down: TestOrigin
  let hooked: TestProxy
  let plain: TestProxy
  const paths = ['/err/stale-no-window', '/err/synth-stale', '/default-stale', '/default-no-window']
  before(async () => {
    down = await startOrigin()
    hooked = await startProxy({ origin: down.url }, policy)
    plain = await startProxy({ origin: down.url })
    for (const path of paths) {
      // stale-if-error=0: the default does not serve it stale once the origin fails
      serveNumbered(down, path, { 'cache-control': path.includes('no-window') ? 'max-age=1, stale-if-error=0' : 'max-age=1' })
    }
    for (const proxy of [hooked, plain]) for (const path of paths) assert.equal((await getThrough(proxy, path)).status, 200)
    await sleep(PAST_ONE_SECOND_MS)
    await down.close()
  })
  after(async () => { await hooked.close(); await plain.close() })

  const both = (path: string): Promise<[TestResponse, TestResponse]> => Promise.all([getThrough(hooked, path), getThrough(plain, path)])

  test('synth gives its status when the origin is down and nothing is stored; the default is a 502', async () => {
    const [hook, builtin] = await both('/err/synth-nothing')
    assert.equal(hook.status, 503)
    assert.match(hook.body, /Down for maintenance/, 'the hook\'s reason reaches the client')
    assert.equal(builtin.status, 502)
  })

  test('synth replaces the stale object the default would serve', async () => {
    const hook = await getThrough(hooked, '/err/synth-stale')
    assert.equal(hook.status, 503)
    assert.match(hook.body, /Down for maintenance/, 'the hook\'s reason reaches the client')
    const [, builtin] = await both('/default-stale')
    assert.equal(builtin.status, 200)
    assert.equal(builtin.body, '/default-stale #2') // warmed through hooked (#1), then plain (#2)
    assert.match(cacheStatus(builtin), /fwd=stale/)
  })

  test('serveStale serves the stale object where the default gives an error (stale-if-error=0)', async () => {
    const hook = await getThrough(hooked, '/err/stale-no-window')
    assert.equal(hook.status, 200)
    assert.equal(hook.body, '/err/stale-no-window #1')
    assert.match(cacheStatus(hook), /fwd=stale/)
    assert.match(cacheStatus(hook), /detail=ORIGIN-UNREACHABLE/)
    const builtin = await getThrough(plain, '/err/stale-no-window')
    assert.equal(builtin.status, 502)
    // with the hook answering undefined, the default applies on the hooked proxy too
    assert.equal((await getThrough(hooked, '/default-no-window')).status, 502)
  })

  test('serveStale with nothing stored gives the default error', async () => {
    assert.equal((await getThrough(hooked, '/err/stale-nothing')).status, 502)
  })
})

test('backendError synth also answers for an origin that answers 500/502/503/504', async () => {
  env.origin.on('/err/synth-status', (_req, res) => { res.writeHead(500, { 'content-type': 'text/plain' }); res.end('stack trace of the origin') })
  const res = await get('/err/synth-status')
  assert.equal(res.status, 503)
  assert.match(res.body, /Down for maintenance/)
  assert.doesNotMatch(res.body, /stack trace/)
})

test('reload with a new policy swaps the hooks and keeps the store', async () => {
  const tag = (name: string): Policy => ({ deliver: () => ({ action: 'deliver', edits: { set: { 'x-policy': name } } }) })
  const options = { origin: env.origin.url, listen: '127.0.0.1:0', admin: '127.0.0.1:0' }
  const proxy = await startProxy(options, tag('a'))
  try {
    serveNumbered(env.origin, '/reloaded-policy', { 'cache-control': 'max-age=60' })
    assert.equal((await request(`${proxy.url}/reloaded-policy`)).headers['x-policy'], 'a')
    proxy.proxy.reload(options, tag('b'))
    const after = await request(`${proxy.url}/reloaded-policy`)
    assert.ok(isHit(after), cacheStatus(after))
    assert.equal(after.headers['x-policy'], 'b')
    assert.equal(env.origin.count('/reloaded-policy'), 1)
  } finally {
    await proxy.close()
  }
})

test('hooks that answer nothing leave the built-in policy in charge', async () => {
  const proxy = await startProxy({ origin: env.origin.url }, {})
  try {
    serveNumbered(env.origin, '/empty-policy', { 'cache-control': 'max-age=60' })
    await request(`${proxy.url}/empty-policy`)
    assert.ok(isHit(await request(`${proxy.url}/empty-policy`)))
    assert.match(cacheStatus(await request(`${proxy.url}/empty-policy`, { headers: { cookie: 'sid=1' } })), /detail=REQUEST-COOKIE/)
  } finally {
    await proxy.close()
  }
})
