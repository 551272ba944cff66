/**
 * Unit tests for policy/builtin: each built-in rule on its own (reqMethod, reqRulePass,
 * reqCookie, hashRule, berespSetCookie, berespVaryStar, berespRfc9111, berespRule, errStale),
 * the built-in policy built from a config, and composition of a user policy over it.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { resolveConfig } from '../config/resolve.js'
import type { LacquerConfig, RuleConfig } from '../config/schema.js'
import { parseCacheControl, parseCdnCacheControl } from '../http-cache/cache-control.js'
import type { HeaderList } from '../http-cache/header-list.js'
import { CACHE_STATUS_DETAILS } from '../observe/cache-status.js'
import {
  type BuiltinSettings, TRACKING_COOKIE_PATTERNS, berespRfc9111, berespRule, berespSetCookie, berespVaryStar, composePolicy,
  createBuiltinPolicy, errStale, hashRule, isTrackingCookie, reqCookie, reqMethod, reqRulePass,
} from './builtin.js'
import { type CompiledRule, userKey } from './rules.js'
import type { BackendErrorView, Policy, RequestView, ResponseView } from './types.js'

const ORIGIN = 'http://127.0.0.1:3000'
const SECRET = 'a-test-secret-of-at-least-16-chars'
const KEEP_FOR_ERRORS_MS = 600_000

/** The built-in settings and compiled rules of a config, as createProxy derives them. */
function setup(config: Partial<LacquerConfig> = {}): { settings: BuiltinSettings; rules: readonly CompiledRule[] } {
  const resolved = resolveConfig({ origin: ORIGIN, perUser: { secret: SECRET }, ...config })
  return {
    settings: { cookies: resolved.cookies, perUserSecret: resolved.perUser.secret, keepForErrorsMs: KEEP_FOR_ERRORS_MS },
    rules: resolved.rules,
  }
}

/** One compiled rule from its config form. */
function rule(config: RuleConfig): CompiledRule {
  return setup({ rules: [config] }).rules[0]!
}

const defaults = setup().settings

function req(overrides: Partial<RequestView> = {}): RequestView {
  return { method: 'GET', path: '/', host: 'example.com', scheme: 'http', headers: [], clientAddress: '127.0.0.1', ...overrides }
}

function res(headers: HeaderList = [['cache-control', 'max-age=60']], overrides: Partial<ResponseView> = {}): ResponseView {
  const cc = parseCacheControl(headers.filter(([k]) => k === 'cache-control').map(([, v]) => v))
  return { status: 200, headers, cc, isTargeted: false, request: req(), ...overrides }
}

/** The request view as the mechanism hands it on after hash: with the partition the hash gave. */
function hashed(view: RequestView, settings: BuiltinSettings = defaults): RequestView {
  return { ...view, partition: hashRule(view, settings)?.partition }
}

const PASS_COOKIE = { action: 'pass', detail: 'REQUEST-COOKIE', edits: undefined }
const HASH_NO_COOKIE = { action: 'hash', edits: { unset: ['cookie'] } }

describe('reqMethod', () => {
  test('GET and HEAD are looked up', () => {
    assert.equal(reqMethod(req({ method: 'GET' })), undefined)
    assert.equal(reqMethod(req({ method: 'HEAD' })), undefined)
  })

  test('every other method is passed', () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'FROB', 'get']) {
      assert.deepEqual(reqMethod(req({ method })), { action: 'pass', detail: 'REQUEST-UNSAFE-METHOD', edits: undefined }, method)
    }
  })

  test('a passed request still gets the rule\'s request header edits', () => {
    const r = rule({ match: { path: '/api/**' }, requestHeaders: { set: { 'x-a': '1' } } })
    assert.deepEqual(reqMethod(req({ method: 'POST', rule: r })), { action: 'pass', detail: 'REQUEST-UNSAFE-METHOD', edits: { set: { 'x-a': '1' } } })
  })

  test('is named', () => {
    assert.equal(reqMethod.name, 'reqMethod')
  })
})

describe('reqRulePass', () => {
  test('no rule, or a rule without pass: no answer', () => {
    assert.equal(reqRulePass(req()), undefined)
    assert.equal(reqRulePass(req({ rule: rule({ ttl: '1m' }) })), undefined)
    assert.equal(reqRulePass(req({ rule: rule({ pass: false }) })), undefined)
  })

  test('a pass: true rule passes with RULE-PASS and its request header edits', () => {
    assert.deepEqual(reqRulePass(req({ rule: rule({ pass: true }) })), { action: 'pass', detail: 'RULE-PASS', edits: undefined })
    const r = rule({ pass: true, requestHeaders: { set: { 'x-from-cache': 'no' }, unset: ['x-debug'] } })
    assert.deepEqual(reqRulePass(req({ rule: r })), { action: 'pass', detail: 'RULE-PASS', edits: { set: { 'x-from-cache': 'no' }, unset: ['x-debug'] } })
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

describe('reqCookie (default settings)', () => {
  test('no Cookie: no answer', () => {
    assert.equal(reqCookie(req(), defaults), undefined)
  })

  test('a session cookie passes the request', () => {
    assert.deepEqual(reqCookie(req({ headers: [['cookie', 'session=abc']] }), defaults), PASS_COOKIE)
  })

  test('only tracking cookies: looked up with the Cookie field removed', () => {
    assert.deepEqual(reqCookie(req({ headers: [['cookie', '_ga=GA1.2.3; _gid=GA1.2.4; __utmz=x']] }), defaults), HASH_NO_COOKIE)
  })

  test('a user cookie among tracking cookies passes', () => {
    assert.deepEqual(reqCookie(req({ headers: [['cookie', '_ga=GA1; session=abc; _fbp=fb.1']] }), defaults), PASS_COOKIE)
  })

  test('every Cookie line is read', () => {
    assert.deepEqual(reqCookie(req({ headers: [['cookie', '_ga=1'], ['cookie', 'session=2']] }), defaults), PASS_COOKIE)
    assert.deepEqual(reqCookie(req({ headers: [['cookie', '_ga=1'], ['cookie', '_gid=2']] }), defaults), HASH_NO_COOKIE)
  })

  test('whitespace and empty pairs are tolerated', () => {
    assert.deepEqual(reqCookie(req({ headers: [['cookie', ' _ga=1 ;; ; _gid=2; ']] }), defaults), HASH_NO_COOKIE)
  })

  test('an empty Cookie is treated like tracking only: looked up, Cookie removed', () => {
    assert.deepEqual(reqCookie(req({ headers: [['cookie', '']] }), defaults), HASH_NO_COOKIE)
  })

  test('a cookie without = is a name, and counts', () => {
    assert.deepEqual(reqCookie(req({ headers: [['cookie', 'flag']] }), defaults), PASS_COOKIE)
  })

  test('a tracking-like value does not make a cookie a tracking cookie', () => {
    assert.deepEqual(reqCookie(req({ headers: [['cookie', 'session=_ga']] }), defaults), PASS_COOKIE)
  })

  test('an unknown cookie passes by default (cookies.unknown: pass)', () => {
    assert.deepEqual(reqCookie(req({ headers: [['cookie', 'theme=dark']] }), defaults), PASS_COOKIE)
  })

  test('the default session list: framework session cookies, with wildcards', () => {
    const { settings } = setup({ cookies: { unknown: 'ignore' } })
    for (const cookie of ['PHPSESSID=1', 'JSESSIONID=1', 'connect.sid=1', 'wordpress_logged_in_abc123=1', 'SESSabc=1', 'myapp_session=1', 'sid=1']) {
      assert.deepEqual(reqCookie(req({ headers: [['cookie', `_ga=1; ${cookie}`]] }), settings), PASS_COOKIE, cookie)
    }
  })

  test('the request\'s rule edits travel with the answer', () => {
    const r = rule({ requestHeaders: { set: { 'x-a': '1' } } })
    assert.deepEqual(reqCookie(req({ rule: r, headers: [['cookie', 'session=1']] }), defaults), { action: 'pass', detail: 'REQUEST-COOKIE', edits: { set: { 'x-a': '1' } } })
    assert.deepEqual(reqCookie(req({ rule: r, headers: [['cookie', '_ga=1']] }), defaults), { action: 'hash', edits: { set: { 'x-a': '1' }, unset: ['cookie'] } })
  })
})

describe('reqCookie (configured lists)', () => {
  test('cookies.session replaces the session list', () => {
    const { settings } = setup({ cookies: { session: ['auth_*'], unknown: 'ignore' } })
    assert.deepEqual(reqCookie(req({ headers: [['cookie', 'auth_token=xyz']] }), settings), PASS_COOKIE)
    // PHPSESSID is no longer on the session list; with unknown: ignore it is removed like a tracking cookie
    assert.deepEqual(reqCookie(req({ headers: [['cookie', 'PHPSESSID=1']] }), settings), HASH_NO_COOKIE)
  })

  test('cookies.unknown: ignore — a cookie on neither list is removed, not a reason to pass', () => {
    const { settings } = setup({ cookies: { unknown: 'ignore' } })
    assert.deepEqual(reqCookie(req({ headers: [['cookie', 'theme=dark; _ga=1']] }), settings), HASH_NO_COOKIE)
    assert.deepEqual(reqCookie(req({ headers: [['cookie', 'theme=dark; session=abc']] }), settings), PASS_COOKIE)
  })

  test('cookies.unknown: pass — a cookie on neither list passes', () => {
    const { settings } = setup({ cookies: { unknown: 'pass' } })
    assert.deepEqual(reqCookie(req({ headers: [['cookie', '_ga=1; theme=dark']] }), settings), PASS_COOKIE)
  })

  test('cookies.ignore adds to the built-in tracking list (with wildcards)', () => {
    const { settings } = setup({ cookies: { ignore: ['consent*', 'theme'] } })
    assert.deepEqual(reqCookie(req({ headers: [['cookie', 'consent_v2=yes; theme=dark; _ga=1']] }), settings), HASH_NO_COOKIE)
    assert.deepEqual(reqCookie(req({ headers: [['cookie', 'theme=dark; cart=3']] }), settings), PASS_COOKIE)
  })

  test('cookies.ignoreBuiltin: false drops the built-in tracking list', () => {
    const { settings } = setup({ cookies: { ignoreBuiltin: false, ignore: ['theme'] } })
    assert.deepEqual(reqCookie(req({ headers: [['cookie', '_ga=1']] }), settings), PASS_COOKIE)
    assert.deepEqual(reqCookie(req({ headers: [['cookie', 'theme=dark']] }), settings), HASH_NO_COOKIE)
  })
})

describe('reqCookie on rules', () => {
  test('a cache rule removes every cookie, session cookies included', () => {
    const r = rule({ match: { path: '/assets/**' }, cache: true })
    assert.deepEqual(reqCookie(req({ rule: r, headers: [['cookie', 'session=abc; _ga=1; theme=dark']] }), defaults), HASH_NO_COOKIE)
    assert.equal(reqCookie(req({ rule: r }), defaults), undefined)
  })

  test('a cache rule keeps its own request edits and adds the cookie removal', () => {
    const r = rule({ cache: true, requestHeaders: { unset: ['x-debug'] } })
    const answer = reqCookie(req({ rule: r, headers: [['cookie', 'session=abc']] }), defaults)
    assert.ok(answer?.action === 'hash', JSON.stringify(answer))
    assert.deepEqual(answer.edits?.unset, ['x-debug', 'cookie'])
    assert.deepEqual(answer.edits?.set ?? {}, {})
  })

  test('a perUser cookie is kept (it is hashed into the key); tracking cookies are removed', () => {
    const r = rule({ perUser: { cookie: 'session' } })
    assert.deepEqual(reqCookie(req({ rule: r, headers: [['cookie', '_ga=1; session=abc; _gid=2']] }), defaults), { action: 'hash', edits: { set: { cookie: 'session=abc' } } })
  })

  test('a perUser cookie does not make another session or unknown cookie acceptable', () => {
    const r = rule({ perUser: { cookie: 'session' } })
    assert.deepEqual(reqCookie(req({ rule: r, headers: [['cookie', 'session=abc; PHPSESSID=2']] }), defaults), PASS_COOKIE)
    assert.deepEqual(reqCookie(req({ rule: r, headers: [['cookie', 'session=abc; cart=2']] }), defaults), PASS_COOKIE)
  })

  test('a perUser rule without its cookie: tracking cookies removed, looked up anonymously', () => {
    const r = rule({ perUser: { cookie: 'session' } })
    assert.deepEqual(reqCookie(req({ rule: r, headers: [['cookie', '_ga=1']] }), defaults), HASH_NO_COOKIE)
  })

  test('a perUser header rule keeps no cookie: a session cookie still passes', () => {
    const r = rule({ perUser: { header: 'authorization' } })
    assert.deepEqual(reqCookie(req({ rule: r, headers: [['cookie', 'session=abc']] }), defaults), PASS_COOKIE)
  })
})

describe('hashRule', () => {
  test('no rule, or a rule with no key parts: no answer', () => {
    assert.equal(hashRule(req(), defaults), undefined)
    assert.equal(hashRule(req({ rule: rule({ ttl: '1m' }) }), defaults), undefined)
    assert.equal(hashRule(req({ rule: rule({ key: { query: 'sort' } }) }), defaults), undefined)
  })

  test('key.vary adds each header\'s value (names case-insensitive, lines joined)', () => {
    const r = rule({ key: { vary: ['Accept-Language', 'X-Country'] } })
    assert.deepEqual(hashRule(req({ rule: r, headers: [['accept-language', 'fr'], ['x-country', 'FR'], ['x-country', 'BE']] }), defaults),
      { action: 'lookup', keyParts: ['accept-language=fr', 'x-country=FR,BE'], partition: undefined })
    assert.deepEqual(hashRule(req({ rule: r }), defaults), { action: 'lookup', keyParts: ['accept-language=', 'x-country='], partition: undefined })
  })

  test('key.vary: different values give different keys', () => {
    const r = rule({ key: { vary: ['accept-language'] } })
    const fr = hashRule(req({ rule: r, headers: [['accept-language', 'fr']] }), defaults)
    const de = hashRule(req({ rule: r, headers: [['accept-language', 'de']] }), defaults)
    assert.notDeepEqual(fr?.keyParts, de?.keyParts)
  })

  test('perUser cookie: user=<hmac> and the same hash as the partition', () => {
    const r = rule({ perUser: { cookie: 'session' } })
    const hmac = userKey(SECRET, 'alice-token')
    assert.deepEqual(hashRule(req({ rule: r, headers: [['cookie', '_ga=1; session=alice-token']] }), defaults),
      { action: 'lookup', keyParts: [`user=${hmac}`], partition: hmac })
  })

  test('perUser header: user=<hmac> of the header value, the name case-insensitive', () => {
    const r = rule({ perUser: { header: 'Authorization' } })
    const hmac = userKey(SECRET, 'Bearer abc.def')
    assert.deepEqual(hashRule(req({ rule: r, headers: [['authorization', 'Bearer abc.def']] }), defaults),
      { action: 'lookup', keyParts: [`user=${hmac}`], partition: hmac })
  })

  test('without the cookie or header: user=- and no partition (one shared anonymous copy)', () => {
    for (const perUser of [{ cookie: 'session' }, { header: 'x-user' }]) {
      const r = rule({ perUser })
      assert.deepEqual(hashRule(req({ rule: r }), defaults), { action: 'lookup', keyParts: ['user=-'], partition: undefined }, JSON.stringify(perUser))
      assert.deepEqual(hashRule(req({ rule: r, headers: [['cookie', 'other=1']] }), defaults), { action: 'lookup', keyParts: ['user=-'], partition: undefined })
    }
  })

  test('the raw credential never appears in the key parts or the partition', () => {
    const r = rule({ perUser: { cookie: 'session' } })
    const answer = hashRule(req({ rule: r, headers: [['cookie', 'session=very-secret-session-value']] }), defaults)
    assert.ok(answer)
    assert.doesNotMatch(JSON.stringify(answer), /very-secret-session-value/)
    const h = rule({ perUser: { header: 'x-api-key' } })
    assert.doesNotMatch(JSON.stringify(hashRule(req({ rule: h, headers: [['x-api-key', 'key-123456']] }), defaults)), /key-123456/)
  })

  test('each user gets a different key; one user always the same', () => {
    const r = rule({ perUser: { cookie: 'session' } })
    const key = (value: string) => hashRule(req({ rule: r, headers: [['cookie', `session=${value}`]] }), defaults)?.keyParts
    assert.deepEqual(key('alice'), key('alice'))
    assert.notDeepEqual(key('alice'), key('bob'))
  })

  test('the key depends on the secret', () => {
    const r = rule({ perUser: { cookie: 'session' } })
    const other = setup({ perUser: { secret: 'another-secret-of-16-chars-or-more' } }).settings
    const headers: HeaderList = [['cookie', 'session=alice']]
    assert.notDeepEqual(hashRule(req({ rule: r, headers }), defaults), hashRule(req({ rule: r, headers }), other))
  })

  test('key.vary and perUser together: the vary parts, then the user', () => {
    const r = rule({ perUser: { cookie: 'session' }, key: { vary: ['accept-language'] } })
    const hmac = userKey(SECRET, 'alice')
    assert.deepEqual(hashRule(req({ rule: r, headers: [['accept-language', 'fr'], ['cookie', 'session=alice']] }), defaults),
      { action: 'lookup', keyParts: ['accept-language=fr', `user=${hmac}`], partition: hmac })
  })
})

describe('berespSetCookie', () => {
  test('Set-Cookie or Set-Cookie2: not stored, not shared', () => {
    const answer = { action: 'dontStore', detail: 'RESPONSE-SET-COOKIE', isShareable: false }
    assert.deepEqual(berespSetCookie(res([['cache-control', 'max-age=60'], ['set-cookie', 'a=1']])), answer)
    assert.deepEqual(berespSetCookie(res([['set-cookie2', 'a=1']])), answer)
  })

  test('otherwise no answer', () => {
    assert.equal(berespSetCookie(res()), undefined)
  })

  test('on a cache rule, no answer (berespRule strips Set-Cookie)', () => {
    const request = req({ rule: rule({ cache: true }) })
    assert.equal(berespSetCookie(res([['cache-control', 'max-age=60'], ['set-cookie', 'a=1']], { request })), undefined)
  })

  test('on a perUser rule, Set-Cookie is still never stored', () => {
    const request = hashed(req({ rule: rule({ perUser: { cookie: 'session' } }), headers: [['cookie', 'session=abc']] }))
    assert.deepEqual(berespSetCookie(res([['set-cookie', 'a=1']], { request })), { action: 'dontStore', detail: 'RESPONSE-SET-COOKIE', isShareable: false })
  })
})

describe('berespVaryStar', () => {
  test('Vary: * in any position: not stored, not shared', () => {
    const answer = { action: 'dontStore', detail: 'VARY-STAR', isShareable: false }
    assert.deepEqual(berespVaryStar(res([['vary', '*']])), answer)
    assert.deepEqual(berespVaryStar(res([['vary', 'Accept-Encoding, *']])), answer)
    assert.deepEqual(berespVaryStar(res([['vary', 'accept'], ['vary', '*']])), answer)
  })

  test('an ordinary Vary or none: no answer', () => {
    assert.equal(berespVaryStar(res([['vary', 'Accept-Encoding']])), undefined)
    assert.equal(berespVaryStar(res([])), undefined)
  })
})

describe('berespRfc9111', () => {
  test('a storable response: no answer', () => {
    assert.equal(berespRfc9111(res()), undefined)
  })

  test('RFC refusals: not stored, not shared, with the detail', () => {
    const cases: Array<[ResponseView, string]> = [
      [res([['cache-control', 'no-store']]), 'RESPONSE-NO-STORE'],
      [res([['cache-control', 'private, max-age=60']]), 'RESPONSE-PRIVATE'],
      [res([], { status: 302 }), 'NO-FRESHNESS-INFORMATION'],
      [res(undefined, { status: 206 }), 'STATUS-NOT-CACHEABLE'],
      [res(undefined, { request: req({ method: 'POST' }) }), 'METHOD-NOT-CACHEABLE'],
      [res(undefined, { request: req({ headers: [['cache-control', 'no-store']] }) }), 'REQUEST-NO-STORE'],
    ]
    for (const [view, detail] of cases) {
      assert.deepEqual(berespRfc9111(view), { action: 'dontStore', detail, isShareable: false }, detail)
    }
  })

  test('Authorization in the request (RFC 9111 §3.5, stricter: must-revalidate is not enough)', () => {
    const withAuth = req({ headers: [['authorization', 'Bearer x']] })
    const refused = { action: 'dontStore', detail: 'REQUEST-AUTHORIZATION', isShareable: false }
    assert.deepEqual(berespRfc9111(res(undefined, { request: withAuth })), refused)
    assert.deepEqual(berespRfc9111(res([['cache-control', 'max-age=60, must-revalidate']], { request: withAuth })), refused)
    assert.equal(berespRfc9111(res([['cache-control', 's-maxage=60']], { request: withAuth })), undefined)
    assert.equal(berespRfc9111(res([['cache-control', 'public, max-age=60']], { request: withAuth })), undefined)
  })

  test('uses the effective (targeted) directives it is given', () => {
    const view = res([['cache-control', 'no-store'], ['cdn-cache-control', 'max-age=600']], { cc: parseCdnCacheControl(['max-age=600'])!, isTargeted: true })
    assert.equal(berespRfc9111(view), undefined)
  })

  test('a rule ttl makes a response without freshness information storable', () => {
    const request = req({ rule: rule({ ttl: '5m' }) })
    assert.equal(berespRfc9111(res([], { status: 302, request })), undefined)
    // but it does not override no-store or private
    assert.deepEqual(berespRfc9111(res([['cache-control', 'no-store']], { request })), { action: 'dontStore', detail: 'RESPONSE-NO-STORE', isShareable: false })
    assert.deepEqual(berespRfc9111(res([['cache-control', 'private']], { request })), { action: 'dontStore', detail: 'RESPONSE-PRIVATE', isShareable: false })
  })

  test('a perUser route stores private responses for the user the key names', () => {
    const request = hashed(req({ rule: rule({ perUser: { cookie: 'session' } }), headers: [['cookie', 'session=alice']] }))
    assert.ok(request.partition)
    assert.equal(berespRfc9111(res([['cache-control', 'private, max-age=60']], { request })), undefined)
    // no-store still wins
    assert.deepEqual(berespRfc9111(res([['cache-control', 'private, no-store']], { request })), { action: 'dontStore', detail: 'RESPONSE-NO-STORE', isShareable: false })
  })

  test('a perUser route keyed by Authorization stores the answers to authorized requests per user', () => {
    const request = hashed(req({ rule: rule({ perUser: { header: 'authorization' } }), headers: [['authorization', 'Bearer alice']] }))
    assert.equal(berespRfc9111(res([['cache-control', 'max-age=60']], { request })), undefined)
    assert.equal(berespRfc9111(res([['cache-control', 'max-age=60, must-revalidate']], { request })), undefined)
  })

  test('a perUser route without the credential is the shared anonymous copy (user=-): Authorization is refused as for any shared cache', () => {
    // the key is user=- for every client without the cookie: storing this would hand the
    // authorized answer to every anonymous client
    const request = hashed(req({ rule: rule({ perUser: { cookie: 'session' } }), headers: [['authorization', 'Bearer alice']] }))
    assert.equal(request.partition, undefined)
    assert.deepEqual(berespRfc9111(res([['cache-control', 'max-age=60']], { request })), { action: 'dontStore', detail: 'REQUEST-AUTHORIZATION', isShareable: false })
  })

  test('a perUser route without the credential is the shared anonymous copy (user=-): private is refused', () => {
    const request = hashed(req({ rule: rule({ perUser: { cookie: 'session' } }) }))
    assert.deepEqual(berespRfc9111(res([['cache-control', 'private, max-age=60']], { request })), { action: 'dontStore', detail: 'RESPONSE-PRIVATE', isShareable: false })
  })
})

describe('berespRule', () => {
  test('no rule: store with the headers\' own lifetime', () => {
    assert.deepEqual(berespRule(res()), { action: 'store' })
  })

  test('ttl, grace, keep and tags from the rule, in ms', () => {
    const request = req({ rule: rule({ ttl: '5m', grace: '30s', keep: '1h', tags: ['news', 'front'] }) })
    assert.deepEqual(berespRule(res(undefined, { request })), {
      action: 'store', ttlMs: 300_000, graceMs: 30_000, keepMs: 3_600_000, tags: ['news', 'front'], unset: undefined,
    })
  })

  test('a rule without those actions leaves them to the headers', () => {
    const request = req({ rule: rule({ match: { path: '/x' } }) })
    assert.deepEqual(berespRule(res(undefined, { request })), {
      action: 'store', ttlMs: undefined, graceMs: undefined, keepMs: undefined, tags: undefined, unset: undefined,
    })
  })

  test('a cache rule removes Set-Cookie and Set-Cookie2 before storing', () => {
    const request = req({ rule: rule({ cache: true, ttl: '1d' }) })
    const answer = berespRule(res([['cache-control', 'max-age=60'], ['set-cookie', 'a=1']], { request }))
    assert.equal(answer.action, 'store')
    assert.ok(answer.action === 'store')
    assert.deepEqual(answer.unset, ['set-cookie', 'set-cookie2'])
    assert.equal(answer.ttlMs, 86_400_000)
  })
})

describe('errStale', () => {
  const view = (staleForMs: number | undefined, cacheControl = 'max-age=60'): BackendErrorView => ({
    code: 'ERR_ORIGIN_UNREACHABLE', request: req(),
    stale: staleForMs === undefined ? undefined : { staleForMs, cc: parseCacheControl(cacheControl) },
  })

  test('nothing stale stored: no answer', () => {
    assert.equal(errStale(view(undefined), defaults), undefined)
  })

  test('without stale-if-error: within the keep-for-errors window', () => {
    assert.deepEqual(errStale(view(1000), defaults), { action: 'serveStale' })
    assert.deepEqual(errStale(view(KEEP_FOR_ERRORS_MS - 1), defaults), { action: 'serveStale' })
    assert.equal(errStale(view(KEEP_FOR_ERRORS_MS + 1), defaults), undefined)
  })

  test('stale-if-error sets the window (RFC 5861 §4), shorter or longer than keep-for-errors', () => {
    assert.deepEqual(errStale(view(29_000, 'max-age=60, stale-if-error=30'), defaults), { action: 'serveStale' })
    assert.equal(errStale(view(31_000, 'max-age=60, stale-if-error=30'), defaults), undefined)
    assert.deepEqual(errStale(view(20 * 60_000, 'max-age=60, stale-if-error=3600'), defaults), { action: 'serveStale' })
    assert.equal(errStale(view(1, 'max-age=60, stale-if-error=0'), defaults), undefined)
  })

  test('must-revalidate, proxy-revalidate, s-maxage or no-cache forbid serving stale (RFC 9111 §4.2.4)', () => {
    for (const cc of ['max-age=60, must-revalidate', 'max-age=60, proxy-revalidate', 's-maxage=60', 'no-cache', 'max-age=60, must-revalidate, stale-if-error=600']) {
      assert.equal(errStale(view(1000, cc), defaults), undefined, cc)
    }
  })

  test('also for an error status from the origin', () => {
    assert.deepEqual(errStale({ status: 503, request: req(), stale: { staleForMs: 1000, cc: parseCacheControl('max-age=60') } }, defaults), { action: 'serveStale' })
  })
})

describe('createBuiltinPolicy', () => {
  const policy = createBuiltinPolicy(defaults)

  test('every detail a rule can give is in the Cache-Status catalog', () => {
    for (const detail of ['REQUEST-UNSAFE-METHOD', 'REQUEST-COOKIE', 'RULE-PASS', 'RESPONSE-SET-COOKIE', 'VARY-STAR']) {
      assert.ok(detail in CACHE_STATUS_DETAILS, detail)
    }
  })

  test('the answers that never vary are one frozen object each, not one per request', () => {
    const a = req()
    const b = req({ method: 'POST' })
    for (const hook of ['hit', 'miss', 'pass', 'backendRequest'] as const) {
      const first = (policy[hook] as (r: RequestView) => object)(a)
      assert.equal((policy[hook] as (r: RequestView) => object)(b), first, hook)
      assert.ok(Object.isFrozen(first), hook)
    }
    assert.deepEqual([policy.hit(a, { status: 200, headers: [], ttlMs: 1, tags: [] }), policy.miss(a), policy.pass(a), policy.backendRequest(a)],
      [{ action: 'deliver' }, { action: 'fetch' }, { action: 'fetch' }, { action: 'fetch' }])
    assert.equal(policy.hash(a), policy.hash(b), 'hash without key parts')
  })

  test('recv: hash when no rule answers, with the rule\'s request edits', () => {
    assert.deepEqual(policy.recv(req()), { action: 'hash', edits: undefined })
    const r = rule({ requestHeaders: { set: { 'x-a': '1' } } })
    assert.deepEqual(policy.recv(req({ rule: r })), { action: 'hash', edits: { set: { 'x-a': '1' } } })
  })

  test('recv: the method rule, then the pass rule, then the cookie rule', () => {
    const pass = rule({ pass: true })
    assert.deepEqual(policy.recv(req({ method: 'POST', rule: pass, headers: [['cookie', '_ga=1']] })), { action: 'pass', detail: 'REQUEST-UNSAFE-METHOD', edits: undefined })
    assert.deepEqual(policy.recv(req({ rule: pass, headers: [['cookie', 'sid=1']] })), { action: 'pass', detail: 'RULE-PASS', edits: undefined })
    assert.deepEqual(policy.recv(req({ headers: [['cookie', '_ga=1']] })), HASH_NO_COOKIE)
    assert.deepEqual(policy.recv(req({ headers: [['cookie', 'sid=1']] })), PASS_COOKIE)
  })

  test('hash: a plain lookup unless the rule adds key parts', () => {
    assert.deepEqual(policy.hash(req()), { action: 'lookup' })
    const r = rule({ perUser: { cookie: 'sid' } })
    assert.deepEqual(policy.hash(req({ rule: r, headers: [['cookie', 'sid=1']] })), { action: 'lookup', keyParts: [`user=${userKey(SECRET, '1')}`], partition: userKey(SECRET, '1') })
  })

  test('hit, miss, pass and backendRequest have plain defaults', () => {
    assert.deepEqual(policy.hit(req(), { status: 200, headers: [], ttlMs: 1000, tags: [] }), { action: 'deliver' })
    assert.deepEqual(policy.miss(req()), { action: 'fetch' })
    assert.deepEqual(policy.pass(req()), { action: 'fetch' })
    assert.deepEqual(policy.backendRequest(req()), { action: 'fetch' })
  })

  test('deliver: the rule\'s response header edits', () => {
    assert.deepEqual(policy.deliver(req(), { status: 200, headers: [] }), { action: 'deliver', edits: undefined })
    const r = rule({ responseHeaders: { set: { 'x-cache': 'lacquer' }, unset: ['server'] } })
    assert.deepEqual(policy.deliver(req({ rule: r }), { status: 200, headers: [] }), { action: 'deliver', edits: { set: { 'x-cache': 'lacquer' }, unset: ['server'] } })
  })

  test('backendResponse: store when no rule answers', () => {
    assert.deepEqual(policy.backendResponse(res()), { action: 'store' })
  })

  test('backendResponse: Set-Cookie before Vary: * before the RFC rules before the config rule', () => {
    assert.deepEqual(policy.backendResponse(res([['cache-control', 'no-store'], ['vary', '*'], ['set-cookie', 'a=1']])),
      { action: 'dontStore', detail: 'RESPONSE-SET-COOKIE', isShareable: false })
    assert.deepEqual(policy.backendResponse(res([['cache-control', 'no-store'], ['vary', '*']])),
      { action: 'dontStore', detail: 'VARY-STAR', isShareable: false })
    assert.deepEqual(policy.backendResponse(res([['cache-control', 'no-store']])),
      { action: 'dontStore', detail: 'RESPONSE-NO-STORE', isShareable: false })
    const request = req({ rule: rule({ ttl: '10s' }) })
    assert.deepEqual(policy.backendResponse(res([['cache-control', 'no-store']], { request })),
      { action: 'dontStore', detail: 'RESPONSE-NO-STORE', isShareable: false })
    const stored = policy.backendResponse(res(undefined, { request }))
    assert.ok(stored.action === 'store')
    assert.equal(stored.ttlMs, 10_000)
  })

  test('backendResponse: a cache rule stores a response with Set-Cookie, stripping it', () => {
    const request = req({ rule: rule({ cache: true }) })
    const answer = policy.backendResponse(res([['cache-control', 'max-age=60'], ['set-cookie', 'a=1']], { request }))
    assert.ok(answer.action === 'store')
    assert.deepEqual(answer.unset, ['set-cookie', 'set-cookie2'])
  })

  test('backendError: stale when allowed, else 504 on a timeout, 502 on other origin errors, the origin\'s error status as is', () => {
    const stale = { staleForMs: 1000, cc: parseCacheControl('max-age=60') }
    assert.deepEqual(policy.backendError({ code: 'ERR_ORIGIN_UNREACHABLE', request: req(), stale }), { action: 'serveStale' })
    assert.deepEqual(policy.backendError({ code: 'ERR_ORIGIN_TIMEOUT', request: req() }), { action: 'synth', status: 504, reason: '' })
    assert.deepEqual(policy.backendError({ code: 'ERR_ORIGIN_UNREACHABLE', request: req() }), { action: 'synth', status: 502, reason: '' })
    assert.deepEqual(policy.backendError({ code: 'ERR_ORIGIN_BAD_RESPONSE', request: req() }), { action: 'synth', status: 502, reason: '' })
    assert.deepEqual(policy.backendError({ status: 503, request: req() }), { action: 'deliverError' })
  })
})

describe('composePolicy', () => {
  const builtin = createBuiltinPolicy(defaults)

  test('no user policy is the built-in policy', () => {
    assert.equal(composePolicy(undefined, builtin), builtin)
  })

  test('an empty user policy behaves like the built-in one', () => {
    const policy = composePolicy({}, builtin)
    assert.equal(policy.recv, builtin.recv)
    assert.equal(policy.backendResponse, builtin.backendResponse)
    assert.equal(policy.hash, builtin.hash)
    assert.equal(policy.backendError, builtin.backendError)
  })

  test('the user hook answers first', () => {
    const policy = composePolicy({
      recv: () => ({ action: 'synth', status: 403, reason: 'Forbidden' }),
      backendResponse: () => ({ action: 'store' }),
    }, builtin)
    // built-in would pass a POST and refuse to store Set-Cookie; the user's answers win
    assert.deepEqual(policy.recv(req({ method: 'POST' })), { action: 'synth', status: 403, reason: 'Forbidden' })
    assert.deepEqual(policy.backendResponse(res([['set-cookie', 'a=1']])), { action: 'store' })
  })

  test('the built-in policy answers when the user hook returns undefined', () => {
    const seen: string[] = []
    const user: Policy = {
      recv: (r) => { seen.push(`recv ${r.path}`); return r.path === '/admin' ? { action: 'pass', detail: 'RULE-PASS' } : undefined },
      backendResponse: (r) => { seen.push(`beresp ${r.status}`); return undefined },
    }
    const policy = composePolicy(user, builtin)
    assert.deepEqual(policy.recv(req({ path: '/admin' })), { action: 'pass', detail: 'RULE-PASS' })
    assert.deepEqual(policy.recv(req({ path: '/page', headers: [['cookie', 'sid=1']] })), PASS_COOKIE)
    assert.deepEqual(policy.recv(req({ path: '/page' })), { action: 'hash', edits: undefined })
    assert.deepEqual(policy.backendResponse(res([['cache-control', 'private']])), { action: 'dontStore', detail: 'RESPONSE-PRIVATE', isShareable: false })
    assert.deepEqual(seen, ['recv /admin', 'recv /page', 'recv /page', 'beresp 200'])
  })

  test('a user policy with only one hook keeps the built-in other hooks', () => {
    const policy = composePolicy({ recv: () => ({ action: 'hash' }) }, builtin)
    assert.equal(policy.backendResponse, builtin.backendResponse)
    assert.deepEqual(policy.recv(req({ method: 'DELETE' })), { action: 'hash' })
    const other = composePolicy({ backendResponse: () => undefined }, builtin)
    assert.equal(other.recv, builtin.recv)
  })

  test('user hash and backendError hooks compose the same way', () => {
    const policy = composePolicy({
      hash: (r) => (r.path === '/geo' ? { action: 'lookup', keyParts: ['country=FR'] } : undefined),
      backendError: (e) => (e.status === 503 ? { action: 'synth', status: 503, reason: 'maintenance' } : undefined),
    }, builtin)
    assert.deepEqual(policy.hash(req({ path: '/geo' })), { action: 'lookup', keyParts: ['country=FR'], partition: undefined })
    assert.deepEqual(policy.hash(req({ path: '/other' })), { action: 'lookup' })
    assert.deepEqual(policy.backendError({ status: 503, request: req() }), { action: 'synth', status: 503, reason: 'maintenance' })
    assert.deepEqual(policy.backendError({ status: 500, request: req() }), { action: 'deliverError' })
  })

  test('a user hash hook adds to the built-in key parts: it can never drop the per-user part', () => {
    const policy = composePolicy({ hash: () => ({ action: 'lookup', keyParts: ['country=FR'], partition: 'mine' }) }, builtin)
    const r = rule({ perUser: { cookie: 'session' }, key: { vary: ['accept-language'] } })
    const hmac = userKey(SECRET, 'alice')
    assert.deepEqual(policy.hash(req({ rule: r, headers: [['cookie', 'session=alice'], ['accept-language', 'fr']] })),
      { action: 'lookup', keyParts: ['country=FR', 'accept-language=fr', `user=${hmac}`], partition: hmac })
    // an anonymous request keeps user=- even though the user's hook named a partition
    const anonymous = policy.hash(req({ rule: r }))
    assert.ok(anonymous.keyParts?.includes('user=-'), JSON.stringify(anonymous))
  })

  test('user hooks are called with the request or response view unchanged', () => {
    const request = req({ path: '/x' })
    const response = res()
    let gotRequest: RequestView | undefined
    let gotResponse: ResponseView | undefined
    const policy = composePolicy({ recv: (r) => { gotRequest = r; return undefined }, backendResponse: (r) => { gotResponse = r; return undefined } }, builtin)
    policy.recv(request)
    policy.backendResponse(response)
    assert.equal(gotRequest, request)
    assert.equal(gotResponse, response)
  })
})
