/**
 * c005: HEAD and Range. A HEAD is answered from a stored GET response (RFC 9110 §9.3.2: the
 * same header fields, no content; RFC 9111 §4); a HEAD with nothing stored is forwarded as
 * HEAD and its answer does not fill the cache (RFC 9111 §3: the GET response is what is
 * stored). A single byte range is served as 206 from a stored complete 200 (RFC 9110 §14.1.2
 * first-last, suffix and open forms, §14.4 Content-Range), If-Range is honoured (§13.1.5),
 * and an unsatisfiable range gets 416 with `Content-Range: bytes *\/length` (§15.5.17).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { cacheStatus, isHit, request } from '../helpers/proxy.js'
import { originRequests } from '../helpers/rfc-scenario.js'
import { useOriginAndProxy } from '../helpers/scenario-setup.js'

const env = useOriginAndProxy()
const { get } = env

const BODY = '0123456789'

function serve(path: string, body = BODY): void {
  env.origin.on(path, (_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60', etag: '"r1"', 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
}

const head = (path: string, headers?: Record<string, string>) => request(`${env.proxy.url}${path}`, { method: 'HEAD', headers })

describe('HEAD', () => {
  test('a HEAD is answered from a stored GET: no origin request, no body, the same fields', async () => {
    const path = '/c005/head/from-get'
    serve(path, 'a body of some length')
    const full = await get(path)
    assert.equal(full.body, 'a body of some length')
    const res = await head(path)
    assert.equal(res.status, 200)
    assert.equal(res.body, '')
    assert.ok(isHit(res), cacheStatus(res))
    assert.equal(res.headers['content-length'], String(Buffer.byteLength('a body of some length')))
    assert.equal(res.headers.etag, full.headers.etag)
    assert.equal(res.headers['content-type'], full.headers['content-type'])
    assert.equal(env.origin.count(path), 1)
  })

  test('a HEAD with nothing stored is forwarded as HEAD and stores nothing: the next GET is a miss', async () => {
    const path = '/c005/head/nothing-stored'
    serve(path)
    const res = await head(path)
    assert.equal(res.status, 200)
    assert.equal(res.body, '')
    assert.equal(res.headers['content-length'], String(BODY.length))
    const received = originRequests(env.origin, path)
    assert.deepEqual(received.map((r) => r.method), ['HEAD'], 'the origin got a HEAD, not a GET')
    assert.doesNotMatch(cacheStatus(res), /; stored/)
    const full = await get(path)
    assert.ok(!isHit(full), cacheStatus(full))
    assert.match(cacheStatus(full), /fwd=uri-miss/)
    assert.equal(full.body, BODY)
    assert.deepEqual(originRequests(env.origin, path).map((r) => r.method), ['HEAD', 'GET'])
    // and the GET filled the cache for both methods
    const again = await head(path)
    assert.ok(isHit(again), cacheStatus(again))
    assert.equal(env.origin.count(path), 2)
  })
})

describe('Range from a stored complete response', () => {
  const cases: Array<[string, number, string, string]> = [
    ['bytes=0-1', 206, '01', 'bytes 0-1/10'],
    ['bytes=1-', 206, '123456789', 'bytes 1-9/10'],
    ['bytes=-1', 206, '9', 'bytes 9-9/10'],
    ['bytes=3-5', 206, '345', 'bytes 3-5/10'],
    ['bytes=-20', 206, BODY, 'bytes 0-9/10'],
    ['bytes=8-100', 206, '89', 'bytes 8-9/10'],
  ]
  cases.forEach(([range, status, body, contentRange], i) => {
    test(`Range: ${range} → ${status} "${body}" with Content-Range: ${contentRange}`, async () => {
      const path = `/c005/range/${i}`
      serve(path)
      await get(path)
      const res = await get(path, { range })
      assert.equal(res.status, status)
      assert.equal(res.body, body)
      assert.equal(res.headers['content-range'], contentRange)
      assert.equal(res.headers['content-length'], String(body.length))
      assert.equal(res.headers.etag, '"r1"')
      assert.ok(isHit(res), cacheStatus(res))
      assert.equal(env.origin.count(path), 1)
    })
  })

  for (const range of ['bytes=10-', 'bytes=20-30']) {
    test(`an unsatisfiable Range: ${range} → 416 with Content-Range: bytes */10`, async () => {
      const path = `/c005/range/unsatisfiable/${range}`
      serve(path)
      await get(path)
      const res = await get(path, { range })
      assert.equal(res.status, 416)
      assert.equal(res.headers['content-range'], 'bytes */10')
      assert.notEqual(res.body, BODY)
      assert.equal(env.origin.count(path), 1)
    })
  }

  test('a Range of an unknown unit is ignored: the whole stored response', async () => {
    const path = '/c005/range/unknown-unit'
    serve(path)
    await get(path)
    const res = await get(path, { range: 'lines=1-2' })
    assert.equal(res.status, 200)
    assert.equal(res.body, BODY)
    assert.equal(res.headers['content-range'], undefined)
  })

  test('If-Range with the stored strong ETag gives the range; with another ETag, the whole response', async () => {
    const path = '/c005/range/if-range'
    serve(path)
    await get(path)
    const same = await get(path, { range: 'bytes=0-1', 'if-range': '"r1"' })
    assert.equal(same.status, 206)
    assert.equal(same.body, '01')
    const other = await get(path, { range: 'bytes=0-1', 'if-range': '"r0"' })
    assert.equal(other.status, 200)
    assert.equal(other.body, BODY)
    assert.equal(env.origin.count(path), 1)
  })

  test('the stored response is still whole after serving ranges from it', async () => {
    const path = '/c005/range/still-whole'
    serve(path)
    await get(path)
    await get(path, { range: 'bytes=0-1' })
    const res = await get(path)
    assert.equal(res.status, 200)
    assert.equal(res.body, BODY)
    assert.equal(res.headers['content-range'], undefined)
    assert.equal(res.headers['content-length'], String(BODY.length))
  })

  test('a Range request with nothing stored is forwarded with its Range, and its 206 is not stored', async () => {
    const path = '/c005/range/nothing-stored'
    env.origin.on(path, (req, res) => {
      if (req.headers.range === 'bytes=0-1') {
        res.writeHead(206, { 'cache-control': 'max-age=60', 'content-range': 'bytes 0-1/10', 'content-type': 'text/plain' })
        res.end('01')
        return
      }
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
      res.end(BODY)
    })
    const part = await get(path, { range: 'bytes=0-1' })
    assert.equal(part.status, 206)
    assert.equal(part.body, '01')
    assert.equal(originRequests(env.origin, path)[0]!.headers.range, 'bytes=0-1')
    const full = await get(path)
    assert.equal(full.status, 200)
    assert.equal(full.body, BODY, 'a stored partial response must never be served as the whole one')
    assert.equal(env.origin.count(path), 2)
  })
})
