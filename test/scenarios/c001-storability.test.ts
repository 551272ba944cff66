/**
 * c001: storing responses in caches (RFC 9111 §3): no-store in the response (§5.2.2.5,
 * directive names are case-insensitive) and in the request (§5.2.1.5), private (§5.2.2.7),
 * which status codes are cacheable without explicit freshness (§3, §4.2.2, RFC 9110 §15.1
 * heuristically cacheable), must-understand (§5.2.2.3), and storing responses to
 * authenticated requests (§3.5).
 */
import assert from 'node:assert/strict'
import type http from 'node:http'
import { describe, test } from 'node:test'
import { cacheStatus, isHit } from '../helpers/proxy.js'
import { httpDate, serveNumbered } from '../helpers/rfc-scenario.js'
import { useOriginAndProxy } from '../helpers/scenario-setup.js'

const env = useOriginAndProxy()
const { get } = env

/** Registers a handler on `path` answering `status` with `headers` and a body naming the request number. */
const serve = (path: string, status: number, headers: http.OutgoingHttpHeaders) => serveNumbered(env.origin, path, headers, { status })

/** Two GETs of `path`; returns both responses. */
async function twice(path: string, headers?: Record<string, string>) {
  const first = await get(path, headers)
  const second = await get(path, headers)
  return { first, second }
}

describe('no-store and private', () => {
  for (const value of ['no-store', 'No-Store', 'NO-STORE', 'max-age=60, no-store']) {
    test(`Cache-Control: ${value} is never stored`, async () => {
      const path = `/c001/no-store/${encodeURIComponent(value)}`
      serve(path, 200, { 'cache-control': value })
      const { first, second } = await twice(path)
      assert.equal(first.body, `${path} #1`)
      assert.equal(second.body, `${path} #2`)
      assert.ok(!isHit(second), cacheStatus(second))
      assert.match(cacheStatus(first), /detail=RESPONSE-NO-STORE/)
      // the key is now remembered as uncacheable (hit-for-miss): fetched at once, never coalesced
      assert.match(cacheStatus(second), /detail=HIT-FOR-MISS/)
      assert.doesNotMatch(cacheStatus(first), /; stored/)
      assert.equal(env.origin.count(path), 2)
    })
  }

  test('a request with Cache-Control: no-store does not get its response stored (§5.2.1.5)', async () => {
    const path = '/c001/request-no-store'
    serve(path, 200, { 'cache-control': 'max-age=60' })
    const first = await get(path, { 'cache-control': 'no-store' })
    assert.equal(first.body, `${path} #1`)
    assert.doesNotMatch(cacheStatus(first), /; stored/)
    const second = await get(path)
    assert.equal(second.body, `${path} #2`, 'the response to the no-store request must not have been stored')
    assert.equal(env.origin.count(path), 2)
  })

  test('a request with Cache-Control: no-store may still be answered from a response already stored (§5.2.1.5)', async () => {
    const path = '/c001/request-no-store-already-stored'
    serve(path, 200, { 'cache-control': 'max-age=60' })
    await get(path)
    const res = await get(path, { 'cache-control': 'no-store' })
    assert.equal(res.status, 200)
    assert.equal(res.body, `${path} #1`)
    // and the stored response is still there for the next request
    const after = await get(path)
    assert.ok(isHit(after), cacheStatus(after))
    assert.equal(env.origin.count(path), 1)
  })

  test('Cache-Control: private (also with max-age and s-maxage) is not stored by a shared cache', async () => {
    for (const value of ['private', 'max-age=60, private', 'Private, s-maxage=60']) {
      const path = `/c001/private/${encodeURIComponent(value)}`
      serve(path, 200, { 'cache-control': value })
      const { first, second } = await twice(path)
      assert.equal(second.body, `${path} #2`, value)
      assert.match(cacheStatus(first), /detail=RESPONSE-PRIVATE/, value)
      assert.match(cacheStatus(second), /detail=HIT-FOR-MISS/, value)
      assert.equal(env.origin.count(path), 2, value)
    }
  })
})

describe('status codes without explicit freshness (heuristics need Last-Modified)', () => {
  const lastModified = httpDate(-10 * 86400)
  // RFC 9110 §15.1: heuristically cacheable by default
  for (const status of [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]) {
    test(`${status} with Last-Modified and no Cache-Control is stored and reused`, async () => {
      const path = `/c001/heuristic/${status}`
      serve(path, status, { 'last-modified': lastModified })
      const { first, second } = await twice(path)
      assert.equal(first.status, status)
      assert.equal(second.status, status)
      assert.ok(isHit(second), `${status}: ${cacheStatus(second)}`)
      if (status !== 204) assert.equal(second.body, `${path} #1`)
      assert.equal(env.origin.count(path), 1)
    })
  }
  // not heuristically cacheable: without explicit freshness they must not be reused
  for (const status of [201, 202, 302, 303, 307, 400, 401, 403, 409, 500, 502, 503]) {
    test(`${status} with Last-Modified and no Cache-Control is not reused`, async () => {
      const path = `/c001/not-heuristic/${status}`
      serve(path, status, { 'last-modified': lastModified })
      const { first, second } = await twice(path)
      assert.equal(first.status, status)
      assert.equal(second.status, status)
      assert.equal(second.body, `${path} #2`)
      assert.ok(!isHit(second), cacheStatus(second))
      assert.equal(env.origin.count(path), 2)
    })
  }

  test('a non-heuristic status with no freshness information at all is not stored, and says so', async () => {
    const path = '/c001/no-freshness-info'
    serve(path, 202, {})
    const { first, second } = await twice(path)
    assert.match(cacheStatus(first), /detail=NO-FRESHNESS-INFORMATION/)
    assert.doesNotMatch(cacheStatus(first), /; stored/)
    assert.equal(second.body, `${path} #2`)
    assert.equal(env.origin.count(path), 2)
  })

  test('a non-heuristic status with explicit freshness (max-age) is stored', async () => {
    const path = '/c001/explicit-201'
    serve(path, 201, { 'cache-control': 'max-age=60' })
    const { second } = await twice(path)
    assert.equal(second.status, 201)
    assert.equal(second.body, `${path} #1`)
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(env.origin.count(path), 1)
  })

  test('a 404 with max-age is stored (negative caching)', async () => {
    const path = '/c001/explicit-404'
    serve(path, 404, { 'cache-control': 'max-age=60' })
    const { second } = await twice(path)
    assert.equal(second.status, 404)
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(env.origin.count(path), 1)
  })
})

describe('must-understand (§5.2.2.3)', () => {
  test('must-understand with an unknown status code (599) is not stored, even with max-age', async () => {
    const path = '/c001/must-understand/599'
    serve(path, 599, { 'cache-control': 'max-age=60, must-understand, no-store' })
    const { first, second } = await twice(path)
    assert.equal(first.status, 599)
    assert.equal(second.status, 599)
    assert.equal(second.body, `${path} #2`)
    assert.match(cacheStatus(first), /detail=STATUS-NOT-UNDERSTOOD/)
    assert.equal(env.origin.count(path), 2)
  })

  test('must-understand with an unknown status code and no no-store is not stored either', async () => {
    const path = '/c001/must-understand/599-no-no-store'
    serve(path, 599, { 'cache-control': 'max-age=60, must-understand' })
    const { second } = await twice(path)
    assert.equal(second.body, `${path} #2`)
    assert.equal(env.origin.count(path), 2)
  })

  test('must-understand with a known status code (200) overrides no-store: the response is stored', async () => {
    const path = '/c001/must-understand/200'
    serve(path, 200, { 'cache-control': 'max-age=60, must-understand, no-store' })
    const { first, second } = await twice(path)
    assert.match(cacheStatus(first), /; stored/)
    assert.equal(second.body, `${path} #1`)
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(env.origin.count(path), 1)
  })
})

describe('requests with Authorization (§3.5)', () => {
  const auth = { authorization: 'Basic dXNlcjpwYXNz' }

  test('a response to a request with Authorization and only max-age is not stored', async () => {
    const path = '/c001/auth/max-age'
    serve(path, 200, { 'cache-control': 'max-age=60' })
    const { first, second } = await twice(path, auth)
    assert.match(cacheStatus(first), /detail=REQUEST-AUTHORIZATION/)
    assert.equal(second.body, `${path} #2`)
    assert.equal(env.origin.count(path), 2)
    // and the authorized answer was not stored for anybody else either
    const anonymous = await get(path)
    assert.equal(anonymous.body, `${path} #3`)
  })

  test('must-revalidate alone does not make it shareable (stricter than §3.5, on purpose: per-user APIs send it)', async () => {
    const path = '/c001/auth/must-revalidate-only'
    serve(path, 200, { 'cache-control': 'max-age=60, must-revalidate' })
    const { first, second } = await twice(path, auth)
    assert.match(cacheStatus(first), /detail=REQUEST-AUTHORIZATION/)
    assert.equal(second.body, `${path} #2`)
    assert.equal(env.origin.count(path), 2)
  })

  for (const value of ['public, max-age=60', 's-maxage=60']) {
    test(`a response to a request with Authorization and "${value}" is stored`, async () => {
      const path = `/c001/auth/${encodeURIComponent(value)}`
      serve(path, 200, { 'cache-control': value })
      const { first, second } = await twice(path, auth)
      assert.match(cacheStatus(first), /; stored/)
      assert.equal(second.body, `${path} #1`)
      assert.ok(isHit(second), cacheStatus(second))
      assert.equal(env.origin.count(path), 1)
    })
  }

  test('the same response without Authorization in the request is stored with plain max-age', async () => {
    const path = '/c001/auth/none'
    serve(path, 200, { 'cache-control': 'max-age=60' })
    const { second } = await twice(path)
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(env.origin.count(path), 1)
  })
})
