/**
 * s006: stale-if-error (RFC 5861 §4; RFC 9111 §4.2.4). While the origin fails — connection
 * refused, connection reset, no answer in time, or 500/502/503/504 — a stored response within
 * its stale-if-error window (or the configured keep) stands in, with Cache-Status fwd=stale and
 * the reason; many concurrent requests for it all get it, and the failing origin is asked once.
 * 404 and 410 are answers, not failures: they are delivered. Beyond the window, the error is.
 *
 * Each stored response arrives already stale (Age past max-age, with a validator so it is
 * stored), so no test has to wait for time to pass.
 */
import assert from 'node:assert/strict'
import type http from 'node:http'
import { after, before, describe, test } from 'node:test'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy } from '../helpers/proxy.js'

type Failure = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>

let origin: TestOrigin
let proxy: TestProxy
let slowProxy: TestProxy

/** `path` answers a stale-on-arrival "v1" (stale-if-error=60 unless `cc` says otherwise) first, then `failure`. */
function storedThenFailing(o: TestOrigin, path: string, failure: Failure, cc = 'max-age=1, stale-if-error=60'): void {
  let n = 0
  o.on(path, async (req, res) => {
    if (++n === 1) {
      res.writeHead(200, { 'cache-control': cc, age: '5', etag: '"v1"', 'content-type': 'text/plain' })
      res.end('v1')
      return
    }
    await failure(req, res)
  })
}

const status = (code: number, delayMs = 0): Failure => async (_req, res) => {
  if (delayMs) await sleep(delayMs)
  res.writeHead(code, { 'content-type': 'text/plain' })
  res.end(`origin says ${code}`)
}

before(async () => {
  origin = await startOrigin()
  proxy = await startProxy({ origin: origin.url })
  slowProxy = await startProxy({ origin: { url: origin.url, firstByteTimeout: '300ms' } })
})
after(async () => { await proxy.close(); await slowProxy.close(); await origin.close() })

describe('the origin fails: the stale response stands in', { concurrency: true }, () => {
  for (const code of [500, 502, 503, 504]) {
    test(`origin answers ${code} → stale, fwd=stale, fwd-status=${code}, detail=ORIGIN-ERROR-STATUS`, async () => {
      const path = `/s006/status/${code}`
      storedThenFailing(origin, path, status(code))
      assert.equal((await request(`${proxy.url}${path}`)).body, 'v1')
      const res = await request(`${proxy.url}${path}`)
      assert.equal(res.status, 200)
      assert.equal(res.body, 'v1')
      assert.ok(isHit(res), cacheStatus(res))
      assert.match(cacheStatus(res), new RegExp(`fwd=stale; fwd-status=${code};.*detail=ORIGIN-ERROR-STATUS`))
      assert.equal(origin.count(path), 2)
    })
  }

  test('connection reset by the origin → stale, detail=ORIGIN-UNREACHABLE', async () => {
    const path = '/s006/reset'
    storedThenFailing(origin, path, (req) => { req.socket.destroy() })
    await request(`${proxy.url}${path}`)
    const res = await request(`${proxy.url}${path}`)
    assert.equal(res.status, 200)
    assert.equal(res.body, 'v1')
    assert.match(cacheStatus(res), /hit; fwd=stale.*detail=ORIGIN-UNREACHABLE/)
  })

  test('no answer within firstByteTimeout → stale, detail=ORIGIN-TIMEOUT', async () => {
    const path = '/s006/timeout'
    storedThenFailing(origin, path, () => { /* never answers */ })
    await request(`${slowProxy.url}${path}`)
    const res = await request(`${slowProxy.url}${path}`)
    assert.equal(res.status, 200)
    assert.equal(res.body, 'v1')
    assert.match(cacheStatus(res), /hit; fwd=stale.*detail=ORIGIN-TIMEOUT/)
  })

  for (const code of [404, 410]) {
    test(`origin answers ${code}: not a failure, the ${code} is delivered`, async () => {
      const path = `/s006/not-an-error/${code}`
      storedThenFailing(origin, path, status(code))
      await request(`${proxy.url}${path}`)
      const res = await request(`${proxy.url}${path}`)
      assert.equal(res.status, code)
      assert.equal(res.body, `origin says ${code}`)
      assert.ok(!isHit(res), cacheStatus(res))
      assert.match(cacheStatus(res), new RegExp(`fwd-status=${code}`))
      assert.doesNotMatch(cacheStatus(res), /ORIGIN-ERROR-STATUS/)
    })
  }

  test('beyond the stale-if-error window the error is delivered', async () => {
    const path = '/s006/beyond-window'
    // stale for 4 s on arrival, allowed 1 s
    storedThenFailing(origin, path, status(503), 'max-age=1, stale-if-error=1')
    await request(`${proxy.url}${path}`)
    const res = await request(`${proxy.url}${path}`)
    assert.equal(res.status, 503)
    assert.equal(res.body, 'origin says 503')
  })

  test('without stale-if-error, the configured keep (default 10 min) lets the stale response stand in', async () => {
    const path = '/s006/keep'
    storedThenFailing(origin, path, status(500), 'max-age=1')
    await request(`${proxy.url}${path}`)
    const res = await request(`${proxy.url}${path}`)
    assert.equal(res.body, 'v1')
    assert.match(cacheStatus(res), /fwd=stale; fwd-status=500/)
  })

  test('100 concurrent requests while the origin answers 503 slowly: all get the stale response, the origin is asked once', async () => {
    const path = '/s006/concurrent-503'
    storedThenFailing(origin, path, status(503, 200))
    await request(`${proxy.url}${path}`)
    const all = await Promise.all(Array.from({ length: 100 }, () => request(`${proxy.url}${path}`)))
    for (const res of all) {
      assert.equal(res.status, 200, cacheStatus(res))
      assert.equal(res.body, 'v1')
      assert.match(cacheStatus(res), /fwd=stale/)
    }
    assert.equal(origin.count(path), 2, 'one request for all the waiters')
  })
})

test('connection refused (the origin is down) → stale for every one of 100 concurrent requests; fresh again once it is back', async () => {
  const own = await startOrigin()
  const ownProxy = await startProxy({ origin: own.url })
  try {
    storedThenFailing(own, '/page', status(200))
    await request(`${ownProxy.url}/page`)
    await own.close()
    const all = await Promise.all(Array.from({ length: 100 }, () => request(`${ownProxy.url}/page`)))
    for (const res of all) {
      assert.equal(res.status, 200)
      assert.equal(res.body, 'v1')
      assert.match(cacheStatus(res), /hit; fwd=stale.*detail=ORIGIN-UNREACHABLE/)
    }
    assert.ok(ownProxy.proxy.counters.staleOnError >= 100)
  } finally {
    await ownProxy.close()
    await own.close()
  }
})
