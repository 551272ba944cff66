/**
 * c007: the Cache-Status response field (RFC 9211: one member per cache, ours last, §2;
 * hit §2.1, fwd §2.2, fwd-status §2.3, ttl §2.4, stored §2.5, detail §2.8) on every kind
 * of response — hit, miss, pass, and a synthetic error — keeping an upstream cache's
 * members before ours; and the targeted CDN-Cache-Control field (RFC 9213 §2.1): when valid
 * it replaces Cache-Control and Expires (longer or shorter lifetime, no-store, private,
 * no-cache), and when it is not a valid Structured Field Dictionary, or its max-age is not
 * an Integer, it is ignored and Cache-Control applies.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { sleep, startOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestResponse } from '../helpers/proxy.js'
import { PAST_ONE_SECOND_MS, httpDate, serveNumbered, type ServedHeaders } from '../helpers/rfc-scenario.js'
import { useOriginAndProxy } from '../helpers/scenario-setup.js'

const env = useOriginAndProxy()
const { get } = env

/** The body names the request number; no Content-Type. */
const serve = (path: string, headers: ServedHeaders, status = 200) => serveNumbered(env.origin, path, headers, { status, contentType: false })

/** The whole Cache-Status field value, lines combined. */
function wholeCacheStatus(res: TestResponse): string {
  const lines: string[] = []
  for (let i = 0; i < res.rawHeaders.length; i += 2) if (res.rawHeaders[i]!.toLowerCase() === 'cache-status') lines.push(res.rawHeaders[i + 1]!)
  return lines.join(', ')
}

/** Exactly one member of Lacquer's, and it is the last one. */
function assertOneOfOursLast(res: TestResponse): void {
  const members = wholeCacheStatus(res).split(',').map((m) => m.trim()).filter(Boolean)
  assert.ok(members.length >= 1, 'Cache-Status is present')
  assert.equal(members.filter((m) => /^lacquer(;|$)/.test(m)).length, 1, wholeCacheStatus(res))
  assert.match(members[members.length - 1]!, /^lacquer(;|$)/)
}

describe('Cache-Status on every response (RFC 9211)', () => {
  test('a miss that is stored: fwd=uri-miss, fwd-status and stored', async () => {
    const path = '/c007/status/miss'
    serve(path, { 'cache-control': 'max-age=60' })
    const res = await get(path)
    assertOneOfOursLast(res)
    assert.equal(cacheStatus(res), 'lacquer; fwd=uri-miss; fwd-status=200; stored')
  })

  test('a hit: hit and ttl, and no fwd', async () => {
    const path = '/c007/status/hit'
    serve(path, { 'cache-control': 'max-age=60' })
    await get(path)
    const res = await get(path)
    assertOneOfOursLast(res)
    assert.match(cacheStatus(res), /^lacquer; hit; ttl=(5\d|60)$/)
  })

  test('a 304 answered from the store carries Cache-Status too', async () => {
    const path = '/c007/status/304'
    serve(path, { 'cache-control': 'max-age=60', etag: '"t"' })
    await get(path)
    const res = await get(path, { 'if-none-match': '"t"' })
    assert.equal(res.status, 304)
    assertOneOfOursLast(res)
    assert.match(cacheStatus(res), /^lacquer; hit; ttl=\d+$/)
  })

  test('a miss that is not stored: no stored, and a detail saying why', async () => {
    const path = '/c007/status/not-stored'
    serve(path, { 'cache-control': 'no-store' })
    const res = await get(path)
    assertOneOfOursLast(res)
    assert.equal(cacheStatus(res), 'lacquer; fwd=uri-miss; fwd-status=200; detail=RESPONSE-NO-STORE')
  })

  test('the origin\'s status is reported in fwd-status', async () => {
    const path = '/c007/status/fwd-status-404'
    serve(path, { 'cache-control': 'max-age=60' }, 404)
    const res = await get(path)
    assert.equal(res.status, 404)
    assert.equal(cacheStatus(res), 'lacquer; fwd=uri-miss; fwd-status=404; stored')
  })

  test('a pass for an unsafe method: fwd=method, fwd-status, detail', async () => {
    const path = '/c007/status/post'
    serve(path, {}, 201)
    const res = await request(`${env.proxy.url}${path}`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } })
    assert.equal(res.status, 201)
    assertOneOfOursLast(res)
    assert.equal(cacheStatus(res), 'lacquer; fwd=method; fwd-status=201; detail=REQUEST-UNSAFE-METHOD')
  })

  test('a pass for a request with a session cookie: fwd=bypass and a detail', async () => {
    const path = '/c007/status/cookie'
    serve(path, { 'cache-control': 'max-age=60' })
    const res = await get(path, { cookie: 'session=abc' })
    assertOneOfOursLast(res)
    assert.equal(cacheStatus(res), 'lacquer; fwd=bypass; fwd-status=200; detail=REQUEST-COOKIE')
  })

  test('a HEAD forwarded with nothing stored carries Cache-Status', async () => {
    const path = '/c007/status/head'
    serve(path, { 'cache-control': 'max-age=60' })
    const res = await request(`${env.proxy.url}${path}`, { method: 'HEAD' })
    assertOneOfOursLast(res)
    assert.match(cacheStatus(res), /; fwd=[a-z-]+; fwd-status=200(;|$)/)
    assert.doesNotMatch(cacheStatus(res), /; stored/)
  })

  test('a synthetic 502 (origin unreachable) carries Cache-Status with fwd and a detail, and no fwd-status', async () => {
    const dead = await startOrigin()
    const deadUrl = dead.url
    await dead.close()
    const lonely = await startProxy({ origin: deadUrl })
    try {
      const res = await request(`${lonely.url}/c007/status/unreachable`)
      assert.equal(res.status, 502)
      assertOneOfOursLast(res)
      assert.equal(cacheStatus(res), 'lacquer; fwd=uri-miss; detail=ORIGIN-UNREACHABLE')
      assert.equal(res.headers['lacquer-error'], 'ERR_ORIGIN_UNREACHABLE')
    } finally {
      await lonely.close()
    }
  })

  test('an upstream cache\'s Cache-Status members are kept, before ours, on the miss and on the hit', async () => {
    const path = '/c007/status/upstream'
    serve(path, { 'cache-control': 'max-age=60', 'cache-status': ['OriginCache; hit; ttl=30', 'AppCache; fwd=uri-miss'] })
    const miss = await get(path)
    assert.match(wholeCacheStatus(miss), /^OriginCache; hit; ttl=30, AppCache; fwd=uri-miss, lacquer; fwd=uri-miss; fwd-status=200; stored$/)
    assertOneOfOursLast(miss)
    const hit = await get(path)
    assert.ok(isHit(hit), cacheStatus(hit))
    assert.match(wholeCacheStatus(hit), /^OriginCache; hit; ttl=30, AppCache; fwd=uri-miss, lacquer; hit; ttl=\d+$/)
    assertOneOfOursLast(hit)
  })
})

describe('CDN-Cache-Control (RFC 9213)', () => {
  test('a longer CDN-Cache-Control max-age overrides a Cache-Control max-age=0', async () => {
    const path = '/c007/cdn/longer'
    serve(path, { 'cache-control': 'max-age=0', 'cdn-cache-control': 'max-age=60' })
    await get(path)
    const second = await get(path)
    assert.ok(isHit(second), cacheStatus(second))
    assert.match(cacheStatus(second), /ttl=(5\d|60)$/)
    assert.equal(second.headers['cache-control'], 'max-age=0', 'Cache-Control is passed on unchanged for downstream caches')
    assert.equal(env.origin.count(path), 1)
  })

  test('CDN-Cache-Control max-age overrides Cache-Control: no-store and a past Expires', async () => {
    const path = '/c007/cdn/over-no-store'
    serve(path, () => ({ 'cache-control': 'no-store', expires: httpDate(-3600), 'cdn-cache-control': 'max-age=60' }))
    await get(path)
    const second = await get(path)
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(env.origin.count(path), 1)
  })

  test('a CDN-Cache-Control max-age=0 overrides a long Cache-Control max-age and a future Expires', async () => {
    const path = '/c007/cdn/zero'
    serve(path, () => ({ 'cache-control': 'max-age=3600', expires: httpDate(3600), 'cdn-cache-control': 'max-age=0' }))
    await get(path)
    const second = await get(path)
    assert.ok(!isHit(second), cacheStatus(second))
    assert.equal(second.body, `${path} #2`)
    assert.equal(env.origin.count(path), 2)
  })

  test('a shorter CDN-Cache-Control max-age overrides a longer Cache-Control max-age: the ttl is the CDN one', async () => {
    const path = '/c007/cdn/shorter-ttl'
    serve(path, { 'cache-control': 'max-age=3600', 'cdn-cache-control': 'max-age=60' })
    await get(path)
    const second = await get(path)
    assert.ok(isHit(second), cacheStatus(second))
    assert.match(cacheStatus(second), /ttl=(5\d|60)$/)
    assert.equal(env.origin.count(path), 1)
  })

  test('a shorter CDN-Cache-Control max-age overrides a longer Cache-Control max-age: stale once it runs out', async () => {
    const path = '/c007/cdn/shorter'
    // the ETag keeps it stored even if a whole-second Date makes it nearly stale on arrival
    serve(path, { 'cache-control': 'max-age=3600', 'cdn-cache-control': 'max-age=1', etag: '"s"' })
    const first = await get(path)
    assert.match(cacheStatus(first), /; stored/)
    await sleep(PAST_ONE_SECOND_MS)
    const stale = await get(path)
    assert.ok(!isHit(stale), cacheStatus(stale))
    assert.equal(stale.body, `${path} #2`)
    assert.equal(env.origin.count(path), 2)
  })

  test('CDN-Cache-Control: no-store prevents storing despite Cache-Control: max-age', async () => {
    const path = '/c007/cdn/no-store'
    serve(path, { 'cache-control': 'max-age=3600', 'cdn-cache-control': 'no-store' })
    const first = await get(path)
    assert.match(cacheStatus(first), /detail=RESPONSE-NO-STORE/)
    const second = await get(path)
    assert.equal(second.body, `${path} #2`)
    assert.equal(env.origin.count(path), 2)
  })

  test('CDN-Cache-Control: private prevents storing despite Cache-Control: public, max-age', async () => {
    const path = '/c007/cdn/private'
    serve(path, { 'cache-control': 'public, max-age=3600', 'cdn-cache-control': 'private' })
    const first = await get(path)
    assert.match(cacheStatus(first), /detail=RESPONSE-PRIVATE/)
    const second = await get(path)
    assert.equal(second.body, `${path} #2`)
    assert.equal(env.origin.count(path), 2)
  })

  test('CDN-Cache-Control: no-cache prevents reuse without revalidation despite Cache-Control: max-age', async () => {
    const path = '/c007/cdn/no-cache'
    serve(path, { 'cache-control': 'max-age=3600', 'cdn-cache-control': 'no-cache, max-age=3600', etag: '"n"' })
    await get(path)
    const second = await get(path)
    assert.ok(!isHit(second), cacheStatus(second))
    assert.equal(env.origin.count(path), 2)
  })

  test('an unknown directive alongside max-age does not make CDN-Cache-Control invalid', async () => {
    const path = '/c007/cdn/extension'
    serve(path, { 'cache-control': 'no-store', 'cdn-cache-control': 'foobar, max-age=60' })
    await get(path)
    const second = await get(path)
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(env.origin.count(path), 1)
  })

  // RFC 9213 §2.1: a field that does not parse as a Dictionary, or whose max-age is not an
  // Integer, is ignored — Cache-Control then decides, in both directions
  const invalid = ['max-age=1.5', 'max-age="60"', 'max-age=60, &&&', 'max-age =60', 'max-age=60,', 'max-age=?1', 'max-age=:AAAA:']
  for (const value of invalid) {
    test(`an invalid CDN-Cache-Control ${JSON.stringify(value)} is ignored: Cache-Control: no-store then forbids storing`, async () => {
      const path = `/c007/cdn/invalid/no-store/${encodeURIComponent(value)}`
      serve(path, { 'cache-control': 'no-store', 'cdn-cache-control': value })
      const first = await get(path)
      assert.match(cacheStatus(first), /detail=RESPONSE-NO-STORE/)
      const second = await get(path)
      assert.ok(!isHit(second), cacheStatus(second))
      assert.equal(env.origin.count(path), 2)
    })
  }
  for (const value of ['max-age=1.5', 'max-age="1"', 'max-age=0, &&&']) {
    test(`an invalid CDN-Cache-Control ${JSON.stringify(value)} is ignored: Cache-Control: max-age=60 then makes it fresh`, async () => {
      const path = `/c007/cdn/invalid/max-age/${encodeURIComponent(value)}`
      serve(path, { 'cache-control': 'max-age=60', 'cdn-cache-control': value })
      await get(path)
      const second = await get(path)
      assert.ok(isHit(second), cacheStatus(second))
      assert.match(cacheStatus(second), /ttl=(5\d|60)$/)
      assert.equal(env.origin.count(path), 1)
    })
  }
})
