/**
 * c008: serving stale responses (RFC 9111 §4.2.4, RFC 5861). Within stale-while-revalidate
 * the stale response is served at once and exactly one background request refreshes it
 * (RFC 5861 §3); when the origin fails (refused or reset connection, or a 5xx within
 * stale-if-error, RFC 5861 §4) the stale response stands in for it, with Cache-Status
 * fwd=stale (RFC 9211 §2.2); must-revalidate (§5.2.2.2), proxy-revalidate (§5.2.2.8) and
 * s-maxage (§5.2.2.10) forbid serving stale, so the client gets an error instead
 * (§5.2.2.2: 504 or another applicable error status).
 */
import assert from 'node:assert/strict'
import type http from 'node:http'
import { describe, test } from 'node:test'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, startProxy, type TestResponse } from '../helpers/proxy.js'
import { PAST_ONE_SECOND_MS, deferred, originRequests, waitUntil } from '../helpers/rfc-scenario.js'
import { getThrough, useOriginAndProxy } from '../helpers/scenario-setup.js'

const env = useOriginAndProxy()
const { get } = env

type Later = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void | Promise<void>

/**
 * The first request gets `first` (200, body "v1"); later ones are handled by `later`.
 * `first` may carry an Age so that the stored response is already stale (it then needs a
 * validator to be stored at all).
 */
function scripted(o: TestOrigin, path: string, first: http.OutgoingHttpHeaders, later: Later): void {
  let n = 0
  o.on(path, async (req, res) => {
    n++
    if (n === 1) {
      res.writeHead(200, { 'content-type': 'text/plain', ...first })
      res.end('v1')
      return
    }
    await later(req, res, n)
  })
}

const fresh200 = (body: string): Later => (_req, res) => {
  res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
  res.end(body)
}
const status500: Later = (_req, res) => { res.writeHead(500, { 'content-type': 'text/plain' }); res.end('origin error') }
const resetConnection: Later = (req) => { req.socket.destroy() }

/**
 * With an origin and a proxy of its own: `path` is stored with the `first` fields, left to go
 * stale, and asked for again once the origin's server is closed; returns that last response.
 */
async function requestWithOriginDown(path: string, first: http.OutgoingHttpHeaders): Promise<TestResponse> {
  const own = await startOrigin()
  const ownProxy = await startProxy({ origin: own.url })
  try {
    scripted(own, path, first, fresh200('v2'))
    await getThrough(ownProxy, path)
    await sleep(PAST_ONE_SECOND_MS)
    await own.close()
    return await getThrough(ownProxy, path)
  } finally {
    await ownProxy.close()
    await own.close()
  }
}

describe('stale-while-revalidate (RFC 5861 §3)', { concurrency: true }, () => {
  test('a stale response within the window is served at once, and exactly one background request refreshes it', async () => {
    const path = '/c008/swr/basic'
    const gate = deferred()
    scripted(env.origin, path, { 'cache-control': 'max-age=1, stale-while-revalidate=30', etag: '"v1"' }, async (_req, res) => {
      await gate.promise // the refresh is held until the test lets it go
      res.writeHead(200, { 'cache-control': 'max-age=60', etag: '"v2"', 'content-type': 'text/plain' })
      res.end('v2')
    })
    await get(path)
    await sleep(PAST_ONE_SECOND_MS)
    // all of these are answered while the origin is still holding the refresh
    const stale = await Promise.all([get(path), get(path), get(path)])
    for (const res of stale) {
      assert.equal(res.status, 200)
      assert.equal(res.body, 'v1')
      assert.ok(isHit(res), cacheStatus(res))
      assert.match(cacheStatus(res), /detail=STALE-WHILE-REVALIDATE/)
      assert.ok(Number(res.headers.age) >= 1, `Age ${res.headers.age}`)
    }
    await waitUntil(() => env.origin.count(path) === 2, 2000, 'the background request')
    const more = await get(path)
    assert.equal(more.body, 'v1', 'still stale while the refresh is under way')
    await sleep(50)
    assert.equal(env.origin.count(path), 2, 'one background request, however many stale hits')
    gate.resolve()
    // until the refresh is in the store, requests still get the stale copy (and start no
    // other refresh); then the new response is served
    let refreshed = await get(path)
    for (const until = Date.now() + 2000; refreshed.body !== 'v2' && Date.now() < until;) {
      assert.equal(refreshed.body, 'v1')
      await sleep(20)
      refreshed = await get(path)
    }
    assert.equal(refreshed.body, 'v2')
    assert.ok(isHit(refreshed), cacheStatus(refreshed))
    assert.doesNotMatch(cacheStatus(refreshed), /STALE-WHILE-REVALIDATE/)
    assert.equal(env.origin.count(path), 2)
  })

  test('beyond the stale-while-revalidate window the request waits for the origin', async () => {
    const path = '/c008/swr/beyond-window'
    // Age 10 against max-age=1 and a 2 s window: stale for 9 s, past the window on arrival
    scripted(env.origin, path, { 'cache-control': 'max-age=1, stale-while-revalidate=2', age: '10', etag: '"v1"' }, fresh200('v2'))
    await get(path)
    const res = await get(path)
    assert.equal(res.body, 'v2')
    assert.ok(!isHit(res), cacheStatus(res))
    assert.equal(env.origin.count(path), 2)
  })

  for (const cc of ['max-age=1, stale-while-revalidate=30, must-revalidate', 's-maxage=1, stale-while-revalidate=30', 'max-age=1, stale-while-revalidate=30, proxy-revalidate']) {
    test(`"${cc}": the stale response is not served while revalidating`, async () => {
      const path = `/c008/swr/forbidden/${encodeURIComponent(cc)}`
      const gate = deferred()
      scripted(env.origin, path, { 'cache-control': cc, age: '5', etag: '"v1"' }, async (_req, res) => {
        await gate.promise
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
        res.end('v2')
      })
      await get(path)
      let answered = false
      const pending = get(path).then((res) => { answered = true; return res })
      await waitUntil(() => env.origin.count(path) === 2, 2000, 'the revalidation')
      await sleep(100)
      assert.equal(answered, false, 'the client waits for the origin instead of getting the stale response')
      gate.resolve()
      const res = await pending
      assert.equal(res.body, 'v2')
    })
  }
})

describe('serving stale when the origin fails', { concurrency: true }, () => {
  test('origin down (server closed): the stale response is served with fwd=stale', async () => {
    const path = '/c008/down/closed'
    const res = await requestWithOriginDown(path, { 'cache-control': 'max-age=1', etag: '"v1"' })
    assert.equal(res.status, 200)
    assert.equal(res.body, 'v1')
    assert.match(cacheStatus(res), /fwd=stale/)
    assert.match(cacheStatus(res), /detail=ORIGIN-UNREACHABLE/)
    assert.ok(Number(res.headers.age) >= 1, `Age ${res.headers.age}`)
  })

  test('origin resets the connection: the stale response is served with fwd=stale', async () => {
    const path = '/c008/down/reset'
    scripted(env.origin, path, { 'cache-control': 'max-age=1', age: '5', etag: '"v1"' }, resetConnection)
    await get(path)
    const res = await get(path)
    assert.equal(env.origin.count(path), 2, 'the origin was tried')
    assert.equal(res.status, 200)
    assert.equal(res.body, 'v1')
    assert.match(cacheStatus(res), /fwd=stale/)
  })

  test('stale-if-error: a 500 from the origin is replaced by the stale response', async () => {
    const path = '/c008/sie/500'
    scripted(env.origin, path, { 'cache-control': 'max-age=1, stale-if-error=60', etag: '"v1"' }, status500)
    await get(path)
    await sleep(PAST_ONE_SECOND_MS)
    const res = await get(path)
    assert.equal(env.origin.count(path), 2)
    assert.equal(res.status, 200)
    assert.equal(res.body, 'v1')
    assert.match(cacheStatus(res), /fwd=stale/)
    assert.match(cacheStatus(res), /fwd-status=500/)
    assert.match(cacheStatus(res), /detail=ORIGIN-ERROR-STATUS/)
  })

  test('stale-if-error: past its window, the origin\'s 500 is passed on', async () => {
    const path = '/c008/sie/past-window'
    // stale for about 9 s, window 1 s
    scripted(env.origin, path, { 'cache-control': 'max-age=1, stale-if-error=1', age: '10', etag: '"v1"' }, status500)
    await get(path)
    const res = await get(path)
    assert.equal(res.status, 500)
    assert.equal(res.body, 'origin error')
  })

  for (const cc of ['max-age=1, must-revalidate', 's-maxage=1', 'max-age=1, proxy-revalidate']) {
    test(`"${cc}" forbids serving stale when the origin resets the connection: an error status instead`, async () => {
      const path = `/c008/forbidden/reset/${encodeURIComponent(cc)}`
      scripted(env.origin, path, { 'cache-control': cc, age: '5', etag: '"v1"' }, resetConnection)
      await get(path)
      const res = await get(path)
      assert.equal(env.origin.count(path), 2)
      assert.ok(res.status === 502 || res.status === 504, `status ${res.status}`)
      assert.notEqual(res.body, 'v1')
      assert.doesNotMatch(cacheStatus(res), /; hit/)
    })
  }

  test('"must-revalidate" forbids serving stale when the origin is down (server closed)', async () => {
    const path = '/c008/forbidden/closed'
    const res = await requestWithOriginDown(path, { 'cache-control': 'max-age=1, must-revalidate', etag: '"v1"' })
    assert.ok(res.status === 502 || res.status === 504, `status ${res.status}`)
    assert.notEqual(res.body, 'v1')
  })

  test('"must-revalidate" and a 500 from the origin: the 500 is passed on, not the stale response', async () => {
    const path = '/c008/forbidden/500'
    scripted(env.origin, path, { 'cache-control': 'max-age=1, must-revalidate', age: '5', etag: '"v1"' }, status500)
    await get(path)
    const res = await get(path)
    assert.equal(res.status, 500)
    assert.equal(res.body, 'origin error')
    assert.equal(originRequests(env.origin, path)[1]!.headers['if-none-match'], '"v1"')
  })
})
