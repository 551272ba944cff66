/**
 * c004: validation (RFC 9111 §4.3): a stale stored response is revalidated with
 * If-None-Match (from ETag) and If-Modified-Since (from Last-Modified) (§4.3.1); a 304
 * freshens the stored response, its fields replacing the stored ones except Content-Length
 * (§4.3.4, §3.2), and the stored body is kept; a client's conditional request on a stored
 * fresh response is answered 304 by the cache (§4.3.2, RFC 9110 §13.2.2: If-None-Match takes
 * precedence over If-Modified-Since; RFC 9110 §15.4.5: the 304 carries ETag); no-cache
 * (§5.2.2.4) and must-revalidate (§5.2.2.2) responses are revalidated before reuse.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { sleep } from '../helpers/origin.js'
import { cacheStatus, isHit } from '../helpers/proxy.js'
import { PAST_ONE_SECOND_MS, httpDate, originRequests } from '../helpers/rfc-scenario.js'
import { useOriginAndProxy } from '../helpers/scenario-setup.js'

const env = useOriginAndProxy()
const { get } = env

describe('revalidating a stale stored response (§4.3.1, §4.3.4)', { concurrency: true }, () => {
  test('a stale response with ETag is revalidated with If-None-Match; the 304 updates fields, not the body or Content-Length', async () => {
    const path = '/c004/revalidate/etag'
    const body = 'the original body'
    env.origin.on(path, (req, res) => {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { 'cache-control': 'max-age=60', etag: '"v1"', 'x-version': '2', 'content-length': '0' })
        res.end()
        return
      }
      res.writeHead(200, { 'cache-control': 'max-age=1', etag: '"v1"', 'x-version': '1', 'x-kept': 'yes', 'content-type': 'text/plain' })
      res.end(body)
    })
    const first = await get(path)
    assert.equal(first.headers['x-version'], '1')
    await sleep(PAST_ONE_SECOND_MS)
    const second = await get(path)
    const received = originRequests(env.origin, path)
    assert.equal(received.length, 2)
    assert.equal(received[0]!.headers['if-none-match'], undefined)
    assert.equal(received[1]!.headers['if-none-match'], '"v1"', 'the revalidation carries the stored ETag')
    assert.equal(second.status, 200, 'the client did not ask conditionally: it gets the whole stored response')
    assert.equal(second.body, body)
    assert.equal(second.headers['x-version'], '2', 'a field in the 304 replaces the stored one')
    assert.equal(second.headers['x-kept'], 'yes', 'a field absent from the 304 is kept')
    assert.equal(second.headers['content-length'], String(Buffer.byteLength(body)), 'Content-Length is not taken from a 304')
    assert.match(cacheStatus(second), /fwd=stale/)
    // the freshened response (max-age=60 from the 304) is now reused
    const third = await get(path)
    assert.ok(isHit(third), cacheStatus(third))
    assert.equal(third.body, body)
    assert.equal(third.headers['x-version'], '2')
    assert.equal(third.headers['content-length'], String(Buffer.byteLength(body)))
    assert.equal(env.origin.count(path), 2)
  })

  test('a stale response with only Last-Modified is revalidated with If-Modified-Since carrying that date', async () => {
    const path = '/c004/revalidate/last-modified'
    const lastModified = httpDate(-86400)
    env.origin.on(path, (req, res) => {
      if (req.headers['if-modified-since'] === lastModified) {
        res.writeHead(304, { 'cache-control': 'max-age=60' })
        res.end()
        return
      }
      res.writeHead(200, { 'cache-control': 'max-age=1', 'last-modified': lastModified })
      res.end('dated body')
    })
    await get(path)
    await sleep(PAST_ONE_SECOND_MS)
    const second = await get(path)
    const received = originRequests(env.origin, path)
    assert.equal(received.length, 2)
    assert.equal(received[1]!.headers['if-modified-since'], lastModified)
    assert.equal(received[1]!.headers['if-none-match'], undefined, 'no ETag was stored, so no If-None-Match')
    assert.equal(second.status, 200)
    assert.equal(second.body, 'dated body')
    assert.equal(second.headers['last-modified'], lastModified)
    const third = await get(path)
    assert.ok(isHit(third), cacheStatus(third))
    assert.equal(env.origin.count(path), 2)
  })

  test('a response with both validators is revalidated with both', async () => {
    const path = '/c004/revalidate/both'
    const lastModified = httpDate(-86400)
    env.origin.on(path, (req, res) => {
      if (req.headers['if-none-match']) { res.writeHead(304, { 'cache-control': 'max-age=60', etag: '"b"' }); res.end(); return }
      res.writeHead(200, { 'cache-control': 'max-age=1', etag: '"b"', 'last-modified': lastModified })
      res.end('both')
    })
    await get(path)
    await sleep(PAST_ONE_SECOND_MS)
    const second = await get(path)
    assert.equal(second.body, 'both')
    const revalidation = originRequests(env.origin, path)[1]!
    assert.equal(revalidation.headers['if-none-match'], '"b"')
    assert.equal(revalidation.headers['if-modified-since'], lastModified)
  })

  test('the Cache-Status of a revalidated response gives the 304 the origin returned as fwd-status (RFC 9211 §2.3)', async () => {
    const path = '/c004/revalidate/fwd-status'
    env.origin.on(path, (req, res) => {
      if (req.headers['if-none-match'] === '"s1"') { res.writeHead(304, { 'cache-control': 'max-age=60', etag: '"s1"' }); res.end(); return }
      res.writeHead(200, { 'cache-control': 'max-age=1', etag: '"s1"' })
      res.end('status body')
    })
    await get(path)
    await sleep(PAST_ONE_SECOND_MS)
    const second = await get(path)
    assert.equal(second.status, 200)
    assert.equal(second.body, 'status body')
    assert.equal(env.origin.count(path), 2)
    assert.match(cacheStatus(second), /fwd=stale; fwd-status=304(;|$)/)
  })

  test('a stale response whose revalidation gets a new 200 is replaced by it', async () => {
    const path = '/c004/revalidate/changed'
    let n = 0
    env.origin.on(path, (_req, res) => {
      n++
      res.writeHead(200, { 'cache-control': n === 1 ? 'max-age=1' : 'max-age=60', etag: `"c${n}"` })
      res.end(`version ${n}`)
    })
    await get(path)
    await sleep(PAST_ONE_SECOND_MS)
    const second = await get(path)
    assert.equal(originRequests(env.origin, path)[1]!.headers['if-none-match'], '"c1"')
    assert.equal(second.body, 'version 2')
    assert.equal(second.headers.etag, '"c2"')
    const third = await get(path)
    assert.ok(isHit(third), cacheStatus(third))
    assert.equal(third.body, 'version 2')
    assert.equal(env.origin.count(path), 2)
  })

  test('a fresh must-revalidate response is reused without validation', async () => {
    const path = '/c004/must-revalidate/fresh'
    env.origin.on(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60, must-revalidate', etag: '"f"' })
      res.end('fresh must')
    })
    await get(path)
    const second = await get(path)
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(env.origin.count(path), 1)
  })

  test('a stale must-revalidate response is revalidated before reuse', async () => {
    const path = '/c004/must-revalidate'
    env.origin.on(path, (req, res) => {
      if (req.headers['if-none-match'] === '"m"') { res.writeHead(304, { 'cache-control': 'max-age=60, must-revalidate', etag: '"m"' }); res.end(); return }
      res.writeHead(200, { 'cache-control': 'max-age=1, must-revalidate', etag: '"m"' })
      res.end('must')
    })
    await get(path)
    await sleep(PAST_ONE_SECOND_MS)
    const second = await get(path)
    assert.ok(!isHit(second), cacheStatus(second))
    assert.equal(second.body, 'must')
    assert.equal(env.origin.count(path), 2)
    assert.equal(originRequests(env.origin, path)[1]!.headers['if-none-match'], '"m"')
  })
})

describe('no-cache (§5.2.2.4)', () => {
  test('a no-cache response is stored but revalidated on every use', async () => {
    const path = '/c004/no-cache/etag'
    env.origin.on(path, (req, res) => {
      if (req.headers['if-none-match'] === '"nc"') { res.writeHead(304, { 'cache-control': 'no-cache, max-age=60', etag: '"nc"' }); res.end(); return }
      res.writeHead(200, { 'cache-control': 'no-cache, max-age=60', etag: '"nc"' })
      res.end('no-cache body')
    })
    const first = await get(path)
    assert.match(cacheStatus(first), /; stored/)
    for (let i = 2; i <= 4; i++) {
      const again = await get(path)
      assert.ok(!isHit(again), cacheStatus(again))
      assert.equal(again.status, 200)
      assert.equal(again.body, 'no-cache body')
      const received = originRequests(env.origin, path)
      assert.equal(received.length, i)
      assert.equal(received[i - 1]!.headers['if-none-match'], '"nc"', 'the stored response is revalidated, not refetched')
    }
  })

  test('no-cache given in a separate field line, and in the field-list form, works the same', async () => {
    for (const cc of [['max-age=60', 'no-cache'], ['max-age=60, no-cache="set-cookie"']]) {
      const path = `/c004/no-cache/${encodeURIComponent(cc.join('|'))}`
      env.origin.on(path, (req, res) => {
        res.setHeader('cache-control', cc)
        res.setHeader('etag', '"x"')
        if (req.headers['if-none-match'] === '"x"') { res.writeHead(304); res.end(); return }
        res.writeHead(200)
        res.end('body')
      })
      await get(path)
      const second = await get(path)
      assert.ok(!isHit(second), `${cc}: ${cacheStatus(second)}`)
      assert.equal(second.body, 'body')
      assert.equal(originRequests(env.origin, path)[1]?.headers['if-none-match'], '"x"', String(cc))
    }
  })
})

describe('a client\'s conditional request on a stored fresh response (§4.3.2)', () => {
  const lastModified = httpDate(-86400)
  function serveValidated(path: string, etag = '"cv1"'): void {
    env.origin.on(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', etag, 'last-modified': lastModified, 'x-extra': 'e', 'content-type': 'text/plain' })
      res.end('validated body')
    })
  }

  test('If-None-Match matching the stored ETag: 304 from the cache with ETag, no body, no origin request', async () => {
    const path = '/c004/client/inm-match'
    serveValidated(path)
    await get(path)
    const res = await get(path, { 'if-none-match': '"cv1"' })
    assert.equal(res.status, 304)
    assert.equal(res.body, '')
    assert.equal(res.headers.etag, '"cv1"')
    assert.ok(res.headers['cache-control'], 'a 304 carries Cache-Control (RFC 9110 §15.4.5)')
    assert.ok(isHit(res), cacheStatus(res))
    assert.equal(env.origin.count(path), 1)
  })

  test('If-None-Match with a list, one of which matches (weak comparison), is a 304', async () => {
    const path = '/c004/client/inm-list'
    serveValidated(path, 'W/"weak1"')
    await get(path)
    const res = await get(path, { 'if-none-match': '"other", "weak1"' })
    assert.equal(res.status, 304)
    assert.equal(res.headers.etag, 'W/"weak1"')
    assert.equal(env.origin.count(path), 1)
  })

  test('If-None-Match: * on a stored response is a 304', async () => {
    const path = '/c004/client/inm-star'
    serveValidated(path)
    await get(path)
    const res = await get(path, { 'if-none-match': '*' })
    assert.equal(res.status, 304)
    assert.equal(env.origin.count(path), 1)
  })

  test('If-None-Match not matching: the whole stored response, from the cache', async () => {
    const path = '/c004/client/inm-no-match'
    serveValidated(path)
    await get(path)
    const res = await get(path, { 'if-none-match': '"something-else"' })
    assert.equal(res.status, 200)
    assert.equal(res.body, 'validated body')
    assert.ok(isHit(res), cacheStatus(res))
    assert.equal(env.origin.count(path), 1)
  })

  test('If-Modified-Since at or after Last-Modified: 304 from the cache; before it: 200', async () => {
    const path = '/c004/client/ims'
    serveValidated(path)
    await get(path)
    const same = await get(path, { 'if-modified-since': lastModified })
    assert.equal(same.status, 304)
    assert.equal(same.body, '')
    assert.equal(same.headers.etag, '"cv1"')
    const later = await get(path, { 'if-modified-since': httpDate(-60) })
    assert.equal(later.status, 304)
    const earlier = await get(path, { 'if-modified-since': httpDate(-2 * 86400) })
    assert.equal(earlier.status, 200)
    assert.equal(earlier.body, 'validated body')
    assert.equal(env.origin.count(path), 1)
  })

  test('If-None-Match takes precedence over If-Modified-Since (RFC 9110 §13.2.2)', async () => {
    const path = '/c004/client/precedence'
    serveValidated(path)
    await get(path)
    // If-Modified-Since alone would give a 304, but the ETag does not match
    const tagDiffers = await get(path, { 'if-none-match': '"nope"', 'if-modified-since': httpDate(0) })
    assert.equal(tagDiffers.status, 200)
    assert.equal(tagDiffers.body, 'validated body')
    // If-Modified-Since alone would give a 200, but the ETag matches
    const tagMatches = await get(path, { 'if-none-match': '"cv1"', 'if-modified-since': httpDate(-2 * 86400) })
    assert.equal(tagMatches.status, 304)
    assert.equal(env.origin.count(path), 1)
  })

  test('a conditional request with nothing stored gets a 304, and a later unconditional request gets the whole body', async () => {
    const path = '/c004/client/on-miss'
    // the origin honours If-None-Match too, so forwarding the condition or answering it
    // from the fetched response are both correct; what must never happen is a stored 304
    env.origin.on(path, (req, res) => {
      if (req.headers['if-none-match'] === '"cv1"') { res.writeHead(304, { etag: '"cv1"', 'cache-control': 'max-age=60' }); res.end(); return }
      res.writeHead(200, { 'cache-control': 'max-age=60', etag: '"cv1"', 'content-type': 'text/plain' })
      res.end('validated body')
    })
    const res = await get(path, { 'if-none-match': '"cv1"' })
    assert.equal(res.status, 304)
    assert.equal(res.headers.etag, '"cv1"')
    const full = await get(path)
    assert.equal(full.status, 200)
    assert.equal(full.body, 'validated body')
  })
})
