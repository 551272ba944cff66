/**
 * Unit tests for http-cache/storability: whether a shared cache may store a response
 * (RFC 9111 §3, §3.5, §5.2.2) and may serve it stale (§4.2.4).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseCacheControl, parseCdnCacheControl } from './cache-control.js'
import type { HeaderList } from './header-list.js'
import {
  UNDERSTOOD_STATUS, canStoreResponse, forbidsServingStale, ruleAuthorization, ruleFreshnessInformation, ruleMethod, ruleNoStore,
  rulePrivate, ruleRequestNoStore, ruleStatus, type StoreInput,
} from './storability.js'

function input(overrides: Partial<Omit<StoreInput, 'cc'>> & { cc?: string } = {}): StoreInput {
  const { cc, ...rest } = overrides
  return {
    method: 'GET', status: 200, requestHasAuthorization: false, requestNoStore: false, headers: [], isTargeted: false,
    ...rest, cc: parseCacheControl(cc ?? 'max-age=60'),
  }
}

describe('ruleMethod', () => {
  test('GET may be stored', () => {
    assert.equal(ruleMethod(input()), undefined)
  })

  test('every other method may not (HEAD is served from GET)', () => {
    for (const method of ['HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'get']) {
      assert.equal(ruleMethod(input({ method })), 'METHOD-NOT-CACHEABLE', method)
    }
  })
})

describe('ruleRequestNoStore (RFC 9111 §5.2.1.5)', () => {
  test('a request with no-store forbids storing its response, whatever the response says', () => {
    assert.equal(ruleRequestNoStore(input({ requestNoStore: true, cc: 'public, max-age=600' })), 'REQUEST-NO-STORE')
    assert.deepEqual(canStoreResponse(input({ requestNoStore: true, cc: 'public, max-age=600' })), { canStore: false, detail: 'REQUEST-NO-STORE' })
  })

  test('without it the rule says nothing', () => {
    assert.equal(ruleRequestNoStore(input()), undefined)
  })
})

describe('ruleStatus', () => {
  test('1xx, 206 and 304 are not stored', () => {
    for (const status of [100, 101, 103, 199, 206, 304]) assert.equal(ruleStatus(input({ status })), 'STATUS-NOT-CACHEABLE', String(status))
  })

  test('other final statuses pass this rule', () => {
    for (const status of [200, 201, 204, 301, 302, 404, 410, 500, 599]) assert.equal(ruleStatus(input({ status })), undefined, String(status))
  })
})

describe('ruleNoStore', () => {
  test('no-store forbids storing', () => {
    assert.equal(ruleNoStore(input({ cc: 'no-store, max-age=60' })), 'RESPONSE-NO-STORE')
  })

  test('without no-store it passes', () => {
    assert.equal(ruleNoStore(input()), undefined)
  })

  test('must-understand with an understood status overrides no-store (RFC 9111 §5.2.2.3)', () => {
    assert.equal(ruleNoStore(input({ cc: 'must-understand, no-store, max-age=60', status: 200 })), undefined)
  })

  test('must-understand with a status not understood forbids storing', () => {
    assert.equal(ruleNoStore(input({ cc: 'must-understand, no-store', status: 299 })), 'STATUS-NOT-UNDERSTOOD')
    assert.equal(ruleNoStore(input({ cc: 'must-understand, max-age=60', status: 299 })), 'STATUS-NOT-UNDERSTOOD')
  })

  test('the understood statuses', () => {
    for (const status of [200, 203, 204, 300, 301, 308, 404, 410, 501]) assert.equal(UNDERSTOOD_STATUS.has(status), true, String(status))
    for (const status of [199, 299, 399, 418, 499, 599]) assert.equal(UNDERSTOOD_STATUS.has(status), false, String(status))
  })
})

describe('rulePrivate', () => {
  test('private forbids storing in a shared cache, field-list form too', () => {
    assert.equal(rulePrivate(input({ cc: 'private, max-age=60' })), 'RESPONSE-PRIVATE')
    assert.equal(rulePrivate(input({ cc: 'private="set-cookie", max-age=60' })), 'RESPONSE-PRIVATE')
  })

  test('otherwise it passes', () => {
    assert.equal(rulePrivate(input({ cc: 'public, max-age=60' })), undefined)
  })
})

describe('ruleAuthorization (RFC 9111 §3.5)', () => {
  test('without Authorization it passes', () => {
    assert.equal(ruleAuthorization(input({ cc: 'max-age=60' })), undefined)
  })

  test('with Authorization, max-age alone is not enough', () => {
    assert.equal(ruleAuthorization(input({ requestHasAuthorization: true, cc: 'max-age=60' })), 'REQUEST-AUTHORIZATION')
    assert.equal(ruleAuthorization(input({ requestHasAuthorization: true, cc: 'proxy-revalidate, max-age=60' })), 'REQUEST-AUTHORIZATION')
  })

  test('with Authorization, must-revalidate is not enough either (stricter than §3.5, on purpose)', () => {
    assert.equal(ruleAuthorization(input({ requestHasAuthorization: true, cc: 'max-age=60, must-revalidate' })), 'REQUEST-AUTHORIZATION')
  })

  test('with Authorization, public or s-maxage allow it', () => {
    for (const cc of ['public', 's-maxage=60']) {
      assert.equal(ruleAuthorization(input({ requestHasAuthorization: true, cc })), undefined, cc)
    }
  })

  test('on a per-user key (a private cache for one user) Authorization does not forbid it', () => {
    assert.equal(ruleAuthorization(input({ requestHasAuthorization: true, cc: 'max-age=60', isPrivateCache: true })), undefined)
  })
})

describe('ruleFreshnessInformation', () => {
  test('explicit freshness passes', () => {
    assert.equal(ruleFreshnessInformation(input({ status: 302, cc: 'max-age=60' })), undefined)
    assert.equal(ruleFreshnessInformation(input({ status: 302, cc: 's-maxage=60' })), undefined)
    assert.equal(ruleFreshnessInformation(input({ status: 302, cc: '', headers: [['expires', 'Thu, 01 Jan 2099 00:00:00 GMT']] })), undefined)
  })

  test('an invalid Expires still counts as present', () => {
    assert.equal(ruleFreshnessInformation(input({ status: 302, cc: '', headers: [['expires', '0']] })), undefined)
  })

  test('public passes', () => {
    assert.equal(ruleFreshnessInformation(input({ status: 302, cc: 'public' })), undefined)
  })

  test('a heuristically cacheable status passes', () => {
    for (const status of [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]) {
      assert.equal(ruleFreshnessInformation(input({ status, cc: '' })), undefined, String(status))
    }
  })

  test('a response governed by a targeted field passes', () => {
    assert.equal(ruleFreshnessInformation({ ...input({ status: 302 }), cc: parseCdnCacheControl(['no-cache'])!, isTargeted: true }), undefined)
  })

  test('otherwise there is no freshness information', () => {
    for (const status of [201, 302, 303, 307, 500, 503]) {
      assert.equal(ruleFreshnessInformation(input({ status, cc: '' })), 'NO-FRESHNESS-INFORMATION', String(status))
    }
  })
})

describe('canStoreResponse', () => {
  test('an ordinary cacheable response', () => {
    assert.deepEqual(canStoreResponse(input()), { canStore: true })
    assert.deepEqual(canStoreResponse(input({ cc: '' })), { canStore: true })
  })

  test('each rule can refuse', () => {
    assert.deepEqual(canStoreResponse(input({ method: 'POST' })), { canStore: false, detail: 'METHOD-NOT-CACHEABLE' })
    assert.deepEqual(canStoreResponse(input({ status: 206 })), { canStore: false, detail: 'STATUS-NOT-CACHEABLE' })
    assert.deepEqual(canStoreResponse(input({ cc: 'no-store' })), { canStore: false, detail: 'RESPONSE-NO-STORE' })
    assert.deepEqual(canStoreResponse(input({ cc: 'private' })), { canStore: false, detail: 'RESPONSE-PRIVATE' })
    assert.deepEqual(canStoreResponse(input({ requestHasAuthorization: true })), { canStore: false, detail: 'REQUEST-AUTHORIZATION' })
    assert.deepEqual(canStoreResponse(input({ status: 302, cc: '' })), { canStore: false, detail: 'NO-FRESHNESS-INFORMATION' })
  })

  test('the first refusal wins, in RFC order', () => {
    assert.deepEqual(canStoreResponse(input({ method: 'HEAD', status: 304, cc: 'no-store, private' })), { canStore: false, detail: 'METHOD-NOT-CACHEABLE' })
    assert.deepEqual(canStoreResponse(input({ status: 206, cc: 'no-store, private' })), { canStore: false, detail: 'STATUS-NOT-CACHEABLE' })
    assert.deepEqual(canStoreResponse(input({ cc: 'no-store, private' })), { canStore: false, detail: 'RESPONSE-NO-STORE' })
    assert.deepEqual(canStoreResponse(input({ cc: 'private', requestHasAuthorization: true })), { canStore: false, detail: 'RESPONSE-PRIVATE' })
    assert.deepEqual(canStoreResponse(input({ status: 302, cc: '', requestHasAuthorization: true })), { canStore: false, detail: 'REQUEST-AUTHORIZATION' })
  })

  test('with a targeted field, its directives decide', () => {
    const headers: HeaderList = [['cache-control', 'no-store'], ['cdn-cache-control', 'max-age=10000']]
    assert.deepEqual(canStoreResponse({ ...input({ headers }), cc: parseCdnCacheControl(['max-age=10000'])!, isTargeted: true }), { canStore: true })
    assert.deepEqual(canStoreResponse({ ...input(), cc: parseCdnCacheControl(['no-store'])!, isTargeted: true }),
      { canStore: false, detail: 'RESPONSE-NO-STORE' })
  })
})

describe('forbidsServingStale (RFC 9111 §4.2.4)', () => {
  test('must-revalidate, proxy-revalidate, s-maxage and no-cache forbid it', () => {
    for (const cc of ['must-revalidate', 'proxy-revalidate', 's-maxage=10', 'no-cache', 'max-age=5, must-revalidate']) {
      assert.equal(forbidsServingStale(parseCacheControl(cc)), true, cc)
    }
  })

  test('otherwise serving stale is allowed', () => {
    for (const cc of ['', 'max-age=60', 'public, max-age=60', 'stale-while-revalidate=30', 'immutable']) {
      assert.equal(forbidsServingStale(parseCacheControl(cc)), false, cc)
    }
  })
})
