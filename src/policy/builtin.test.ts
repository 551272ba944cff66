/**
 * Unit tests for policy/builtin: each built-in rule on its own, the built-in policy, and
 * composition of a user policy over it.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseCacheControl, parseCdnCacheControl } from '../http-cache/cache-control.js'
import type { HeaderList } from '../http-cache/header-list.js'
import { CACHE_STATUS_DETAILS } from '../observe/cache-status.js'
import {
  BUILTIN_BACKEND_RESPONSE_RULES, BUILTIN_RECV_RULES, TRACKING_COOKIE_PATTERNS, berespRfc9111, berespSetCookie, berespVaryStar,
  builtinPolicy, composePolicy, isTrackingCookie, reqCookie, reqMethod,
} from './builtin.js'
import type { Policy, RequestView, ResponseView } from './types.js'

function req(overrides: Partial<RequestView> = {}): RequestView {
  return { method: 'GET', path: '/', host: 'example.com', scheme: 'http', headers: [], clientAddress: '127.0.0.1', ...overrides }
}

function res(headers: HeaderList = [['cache-control', 'max-age=60']], overrides: Partial<ResponseView> = {}): ResponseView {
  const cc = parseCacheControl(headers.filter(([k]) => k === 'cache-control').map(([, v]) => v))
  return { status: 200, headers, cc, isTargeted: false, request: req(), ...overrides }
}

describe('reqMethod', () => {
  test('GET and HEAD are looked up', () => {
    assert.equal(reqMethod.decide(req({ method: 'GET' })), undefined)
    assert.equal(reqMethod.decide(req({ method: 'HEAD' })), undefined)
  })

  test('every other method is passed', () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'FROB', 'get']) {
      assert.deepEqual(reqMethod.decide(req({ method })), { action: 'pass', detail: 'REQUEST-UNSAFE-METHOD' }, method)
    }
  })

  test('is named and says why', () => {
    assert.equal(reqMethod.name, 'reqMethod')
    assert.match(reqMethod.see, /RFC 9111/)
  })
})

describe('isTrackingCookie', () => {
  test('analytics, ads and A/B cookies are tracking cookies', () => {
    const names = [
      '_ga', '_ga_ABC123XYZ', '_gid', '_gat', '_gat_UA-1', '_gcl_au', '__utma', '__utmz', '_fbp', '_fbc', '_hjid', '_hjSessionUser_1',
      '_pk_id.1.1fff', '_pk_ses.1.1fff', '_clck', '_clsk', '_uetsid', '_uetvid', 'mp_abc_mixpanel', 'ajs_anonymous_id', 'ajs_user_id',
      '__hssc', '__hstc', '__hsc', 'hubspotutk', '_dc_gtm_UA-1', '__qca', '_ttp', '_tt_enable_cookie', 'optimizelyEndUserId',
      '_vwo_uuid', '_vis_opt_s', '_lfa', '_mkto_trk', '_li_ss', 'li_sugr', 'li_fat_id', '_rdt_uuid', '_scid', '_pin_unauth',
    ]
    for (const name of names) assert.equal(isTrackingCookie(name), true, name)
  })

  test('session and application cookies are not', () => {
    const names = ['session', 'sessionid', 'PHPSESSID', 'JSESSIONID', 'csrftoken', 'auth', 'cart', '_gax', 'ga', 'x_ga', '_gidx', '__utm', '_fbpx', 'li_at', 'mp', '']
    for (const name of names) assert.equal(isTrackingCookie(name), false, name)
  })

  test('the pattern list is exported for reuse', () => {
    assert.ok(TRACKING_COOKIE_PATTERNS.length > 0)
    assert.ok(TRACKING_COOKIE_PATTERNS.every((p) => p instanceof RegExp))
  })
})

describe('reqCookie', () => {
  test('no Cookie: no answer', () => {
    assert.equal(reqCookie.decide(req()), undefined)
  })

  test('a session cookie passes the request', () => {
    assert.deepEqual(reqCookie.decide(req({ headers: [['cookie', 'session=abc']] })), { action: 'pass', detail: 'REQUEST-COOKIE' })
  })

  test('only tracking cookies: looked up with the Cookie field removed', () => {
    assert.deepEqual(reqCookie.decide(req({ headers: [['cookie', '_ga=GA1.2.3; _gid=GA1.2.4; __utmz=x']] })), { action: 'hash', cookie: null })
  })

  test('a user cookie among tracking cookies passes', () => {
    assert.deepEqual(reqCookie.decide(req({ headers: [['cookie', '_ga=GA1; session=abc; _fbp=fb.1']] })), { action: 'pass', detail: 'REQUEST-COOKIE' })
  })

  test('every Cookie line is read', () => {
    assert.deepEqual(reqCookie.decide(req({ headers: [['cookie', '_ga=1'], ['cookie', 'session=2']] })), { action: 'pass', detail: 'REQUEST-COOKIE' })
    assert.deepEqual(reqCookie.decide(req({ headers: [['cookie', '_ga=1'], ['cookie', '_gid=2']] })), { action: 'hash', cookie: null })
  })

  test('whitespace and empty pairs are tolerated', () => {
    assert.deepEqual(reqCookie.decide(req({ headers: [['cookie', ' _ga=1 ;; ; _gid=2; ']] })), { action: 'hash', cookie: null })
  })

  test('an empty Cookie is treated like tracking only: looked up, Cookie removed', () => {
    assert.deepEqual(reqCookie.decide(req({ headers: [['cookie', '']] })), { action: 'hash', cookie: null })
  })

  test('a cookie without = is a name, and counts', () => {
    assert.deepEqual(reqCookie.decide(req({ headers: [['cookie', 'flag']] })), { action: 'pass', detail: 'REQUEST-COOKIE' })
  })

  test('a tracking-like value does not make a cookie a tracking cookie', () => {
    assert.deepEqual(reqCookie.decide(req({ headers: [['cookie', 'session=_ga']] })), { action: 'pass', detail: 'REQUEST-COOKIE' })
  })
})

describe('berespSetCookie', () => {
  test('Set-Cookie or Set-Cookie2: not stored, not shared', () => {
    const answer = { action: 'dontStore', detail: 'RESPONSE-SET-COOKIE', isShareable: false }
    assert.deepEqual(berespSetCookie.decide(res([['cache-control', 'max-age=60'], ['set-cookie', 'a=1']])), answer)
    assert.deepEqual(berespSetCookie.decide(res([['set-cookie2', 'a=1']])), answer)
  })

  test('otherwise no answer', () => {
    assert.equal(berespSetCookie.decide(res()), undefined)
  })
})

describe('berespVaryStar', () => {
  test('Vary: * in any position: not stored, not shared', () => {
    const answer = { action: 'dontStore', detail: 'VARY-STAR', isShareable: false }
    assert.deepEqual(berespVaryStar.decide(res([['vary', '*']])), answer)
    assert.deepEqual(berespVaryStar.decide(res([['vary', 'Accept-Encoding, *']])), answer)
    assert.deepEqual(berespVaryStar.decide(res([['vary', 'accept'], ['vary', '*']])), answer)
  })

  test('an ordinary Vary or none: no answer', () => {
    assert.equal(berespVaryStar.decide(res([['vary', 'Accept-Encoding']])), undefined)
    assert.equal(berespVaryStar.decide(res([])), undefined)
  })
})

describe('berespRfc9111', () => {
  test('a storable response: no answer', () => {
    assert.equal(berespRfc9111.decide(res()), undefined)
  })

  test('RFC refusals: not stored, not shared, with the detail', () => {
    const cases: Array<[ResponseView, string]> = [
      [res([['cache-control', 'no-store']]), 'RESPONSE-NO-STORE'],
      [res([['cache-control', 'private, max-age=60']]), 'RESPONSE-PRIVATE'],
      [res([], { status: 302 }), 'NO-FRESHNESS-INFORMATION'],
      [res(undefined, { status: 206 }), 'STATUS-NOT-CACHEABLE'],
      [res(undefined, { request: req({ method: 'POST' }) }), 'METHOD-NOT-CACHEABLE'],
    ]
    for (const [view, detail] of cases) {
      assert.deepEqual(berespRfc9111.decide(view), { action: 'dontStore', detail, isShareable: false }, detail)
    }
  })

  test('Authorization in the request (RFC 9111 §3.5)', () => {
    const withAuth = req({ headers: [['authorization', 'Bearer x']] })
    assert.deepEqual(berespRfc9111.decide(res(undefined, { request: withAuth })), { action: 'dontStore', detail: 'REQUEST-AUTHORIZATION', isShareable: false })
    assert.equal(berespRfc9111.decide(res([['cache-control', 's-maxage=60']], { request: withAuth })), undefined)
    assert.equal(berespRfc9111.decide(res([['cache-control', 'public, max-age=60']], { request: withAuth })), undefined)
  })

  test('uses the effective (targeted) directives it is given', () => {
    const view = res([['cache-control', 'no-store'], ['cdn-cache-control', 'max-age=600']], { cc: parseCdnCacheControl(['max-age=600'])!, isTargeted: true })
    assert.equal(berespRfc9111.decide(view), undefined)
  })
})

describe('builtinPolicy', () => {
  test('the rules, in order', () => {
    assert.deepEqual(BUILTIN_RECV_RULES.map((r) => r.name), ['reqMethod', 'reqCookie'])
    assert.deepEqual(BUILTIN_BACKEND_RESPONSE_RULES.map((r) => r.name), ['berespSetCookie', 'berespVaryStar', 'berespRfc9111'])
  })

  test('every detail a rule can give is in the Cache-Status catalog', () => {
    for (const detail of ['REQUEST-UNSAFE-METHOD', 'REQUEST-COOKIE', 'RESPONSE-SET-COOKIE', 'VARY-STAR']) {
      assert.ok(detail in CACHE_STATUS_DETAILS, detail)
    }
  })

  test('recv: hash when no rule answers', () => {
    assert.deepEqual(builtinPolicy.recv(req()), { action: 'hash' })
  })

  test('recv: the method rule comes before the cookie rule', () => {
    assert.deepEqual(builtinPolicy.recv(req({ method: 'POST', headers: [['cookie', '_ga=1']] })), { action: 'pass', detail: 'REQUEST-UNSAFE-METHOD' })
    assert.deepEqual(builtinPolicy.recv(req({ headers: [['cookie', '_ga=1']] })), { action: 'hash', cookie: null })
    assert.deepEqual(builtinPolicy.recv(req({ headers: [['cookie', 'sid=1']] })), { action: 'pass', detail: 'REQUEST-COOKIE' })
  })

  test('backendResponse: store when no rule answers', () => {
    assert.deepEqual(builtinPolicy.backendResponse(res()), { action: 'store' })
  })

  test('backendResponse: Set-Cookie before Vary: * before the RFC rules', () => {
    assert.deepEqual(builtinPolicy.backendResponse(res([['cache-control', 'no-store'], ['vary', '*'], ['set-cookie', 'a=1']])),
      { action: 'dontStore', detail: 'RESPONSE-SET-COOKIE', isShareable: false })
    assert.deepEqual(builtinPolicy.backendResponse(res([['cache-control', 'no-store'], ['vary', '*']])),
      { action: 'dontStore', detail: 'VARY-STAR', isShareable: false })
    assert.deepEqual(builtinPolicy.backendResponse(res([['cache-control', 'no-store']])),
      { action: 'dontStore', detail: 'RESPONSE-NO-STORE', isShareable: false })
  })
})

describe('composePolicy', () => {
  test('no user policy is the built-in policy', () => {
    assert.equal(composePolicy(undefined), builtinPolicy)
  })

  test('an empty user policy behaves like the built-in one', () => {
    const policy = composePolicy({})
    assert.equal(policy.recv, builtinPolicy.recv)
    assert.equal(policy.backendResponse, builtinPolicy.backendResponse)
  })

  test('the user hook answers first', () => {
    const policy = composePolicy({
      recv: () => ({ action: 'synth', status: 403, reason: 'Forbidden' }),
      backendResponse: () => ({ action: 'store' }),
    })
    // built-in would pass a POST and refuse to store Set-Cookie; the user's answers win
    assert.deepEqual(policy.recv(req({ method: 'POST' })), { action: 'synth', status: 403, reason: 'Forbidden' })
    assert.deepEqual(policy.backendResponse(res([['set-cookie', 'a=1']])), { action: 'store' })
  })

  test('the built-in policy answers when the user hook returns undefined', () => {
    const seen: string[] = []
    const user: Policy = {
      recv: (r) => { seen.push(`recv ${r.path}`); return r.path === '/admin' ? { action: 'pass', detail: 'REQUEST-COOKIE' } : undefined },
      backendResponse: (r) => { seen.push(`beresp ${r.status}`); return undefined },
    }
    const policy = composePolicy(user)
    assert.deepEqual(policy.recv(req({ path: '/admin' })), { action: 'pass', detail: 'REQUEST-COOKIE' })
    assert.deepEqual(policy.recv(req({ path: '/page', headers: [['cookie', 'sid=1']] })), { action: 'pass', detail: 'REQUEST-COOKIE' })
    assert.deepEqual(policy.recv(req({ path: '/page' })), { action: 'hash' })
    assert.deepEqual(policy.backendResponse(res([['cache-control', 'private']])), { action: 'dontStore', detail: 'RESPONSE-PRIVATE', isShareable: false })
    assert.deepEqual(seen, ['recv /admin', 'recv /page', 'recv /page', 'beresp 200'])
  })

  test('a user policy with only one hook keeps the built-in other hook', () => {
    const policy = composePolicy({ recv: () => ({ action: 'hash' }) })
    assert.equal(policy.backendResponse, builtinPolicy.backendResponse)
    assert.deepEqual(policy.recv(req({ method: 'DELETE' })), { action: 'hash' })
    const other = composePolicy({ backendResponse: () => undefined })
    assert.equal(other.recv, builtinPolicy.recv)
  })

  test('user hooks are called with the request or response view unchanged', () => {
    const request = req({ path: '/x' })
    const response = res()
    let gotRequest: RequestView | undefined
    let gotResponse: ResponseView | undefined
    const policy = composePolicy({ recv: (r) => { gotRequest = r; return undefined }, backendResponse: (r) => { gotResponse = r; return undefined } })
    policy.recv(request)
    policy.backendResponse(response)
    assert.equal(gotRequest, request)
    assert.equal(gotResponse, response)
  })
})
