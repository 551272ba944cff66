/**
 * Unit tests for policy/rules: config rules compiled into matchers (globs, regexes, methods,
 * headers, cookies), first match wins, URL normalisation, name patterns, cookie parsing and
 * per-user keys.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { HeaderList } from '../http-cache/header-list.js'
import { type RuleInput, compileRule, matchRule, namePattern, normalisePath, parseCookies, userKey } from './rules.js'

type Req = Parameters<ReturnType<typeof compileRule>['matches']>[0]

function req(overrides: Partial<Req> = {}): Req {
  return { method: 'GET', host: 'example.com', path: '/', headers: [], ...overrides }
}

/** Whether a rule with this `match` matches the request. */
function matches(match: RuleInput['match'], overrides: Partial<Req> = {}): boolean {
  return compileRule({ match }, 0).matches(req(overrides))
}

describe('compileRule: names and actions', () => {
  test('a rule without a name is named by its index', () => {
    assert.equal(compileRule({}, 3).name, 'rules[3]')
    assert.equal(compileRule({ name: 'static' }, 3).name, 'static')
    assert.equal(compileRule({}, 3).index, 3)
  })

  test('actions are carried over; key names compiled', () => {
    const rule = compileRule({
      ttlMs: 1000, graceMs: 2000, keepMs: 3000, pass: false, cache: true, perUser: { header: 'x-user' }, tags: ['a'], esi: true,
      requestHeaders: { set: { a: '1' } }, responseHeaders: { unset: ['server'] }, key: { query: 'sort', dropParams: ['ref*'], vary: ['Accept-Language'] },
    }, 0)
    assert.deepEqual([rule.ttlMs, rule.graceMs, rule.keepMs, rule.pass, rule.cache, rule.esi], [1000, 2000, 3000, false, true, true])
    assert.deepEqual(rule.perUser, { header: 'x-user' })
    assert.deepEqual(rule.tags, ['a'])
    assert.deepEqual(rule.requestHeaders, { set: { a: '1' } })
    assert.deepEqual(rule.responseHeaders, { unset: ['server'] })
    assert.deepEqual(rule.key, { query: 'sort', dropParams: [/^ref.*$/], vary: ['accept-language'] })
  })

  test('no match: every request matches', () => {
    assert.equal(compileRule({}, 0).matches(req()), true)
    assert.equal(matches({}, { method: 'POST', host: 'other.test', path: '/x?y=1' }), true)
  })
})

describe('compileRule: host', () => {
  test('an exact host, case-insensitive, the port ignored', () => {
    assert.equal(matches({ host: 'example.com' }), true)
    assert.equal(matches({ host: 'example.com' }, { host: 'EXAMPLE.com:8080' }), true)
    assert.equal(matches({ host: 'Example.COM' }, { host: 'example.com' }), true)
    assert.equal(matches({ host: 'example.com' }, { host: 'www.example.com' }), false)
    assert.equal(matches({ host: 'example.com' }, { host: 'example.com.evil.test' }), false)
  })

  test('a glob', () => {
    assert.equal(matches({ host: '*.example.com' }, { host: 'www.example.com' }), true)
    assert.equal(matches({ host: '*.example.com' }, { host: 'shop.example.com:443' }), true)
    assert.equal(matches({ host: '*.example.com' }, { host: 'example.com' }), false)
    assert.equal(matches({ host: '*.example.com' }, { host: 'www.example.org' }), false)
  })

  test('a list: any of them', () => {
    const match = { host: ['example.com', '*.example.com'] }
    assert.equal(matches(match, { host: 'example.com' }), true)
    assert.equal(matches(match, { host: 'www.example.com' }), true)
    assert.equal(matches(match, { host: 'example.org' }), false)
  })

  test('an IPv6 host with a port', () => {
    assert.equal(matches({ host: '[::1]' }, { host: '[::1]:8080' }), true)
  })
})

describe('compileRule: path', () => {
  test('* stays inside one segment, ** crosses segments', () => {
    assert.equal(matches({ path: '/products/*' }, { path: '/products/a' }), true)
    assert.equal(matches({ path: '/products/*' }, { path: '/products/a/b' }), false)
    assert.equal(matches({ path: '/products/**' }, { path: '/products/a/b' }), true)
    assert.equal(matches({ path: '/products/**' }, { path: '/products' }), true)
    assert.equal(matches({ path: '/products/**' }, { path: '/productsx' }), false)
    assert.equal(matches({ path: '/products/**' }, { path: '/other/products/a' }), false)
  })

  test('the query is not part of what the glob sees', () => {
    assert.equal(matches({ path: '/products/*' }, { path: '/products/a?color=red' }), true)
    assert.equal(matches({ path: '/search' }, { path: '/search?q=x' }), true)
    assert.equal(matches({ path: '/search' }, { path: '/search/x?q=1' }), false)
  })

  test('extensions and dot files', () => {
    assert.equal(matches({ path: '/**/*.css' }, { path: '/assets/site.css' }), true)
    assert.equal(matches({ path: '/**/*.css' }, { path: '/assets/site.js' }), false)
    // a pass rule on /admin/** must cover /admin/.env too
    assert.equal(matches({ path: '/admin/**' }, { path: '/admin/.env' }), true)
    assert.equal(matches({ path: '/**' }, { path: '/.git/config' }), true)
  })

  test('a list: any of them', () => {
    const match = { path: ['/assets/**', '/favicon.ico'] }
    assert.equal(matches(match, { path: '/favicon.ico' }), true)
    assert.equal(matches(match, { path: '/assets/a/b.png' }), true)
    assert.equal(matches(match, { path: '/index.html' }), false)
  })

  test('case-sensitive', () => {
    assert.equal(matches({ path: '/Products/**' }, { path: '/products/a' }), false)
  })
})

describe('compileRule: pathRegex', () => {
  test('matched on the path and the query', () => {
    assert.equal(matches({ pathRegex: '^/p/\\d+$' }, { path: '/p/42' }), true)
    assert.equal(matches({ pathRegex: '^/p/\\d+$' }, { path: '/p/abc' }), false)
    assert.equal(matches({ pathRegex: '^/p/\\d+$' }, { path: '/p/42?x=1' }), false)
    assert.equal(matches({ pathRegex: '[?&]preview=1' }, { path: '/page?a=1&preview=1' }), true)
    assert.equal(matches({ pathRegex: '[?&]preview=1' }, { path: '/page?a=1' }), false)
  })

  test('unanchored unless anchored', () => {
    assert.equal(matches({ pathRegex: '/api/' }, { path: '/v2/api/users' }), true)
    assert.equal(matches({ pathRegex: '^/api/' }, { path: '/v2/api/users' }), false)
  })
})

describe('compileRule: methods', () => {
  test('only the methods listed', () => {
    assert.equal(matches({ methods: ['GET', 'HEAD'] }, { method: 'GET' }), true)
    assert.equal(matches({ methods: ['GET', 'HEAD'] }, { method: 'HEAD' }), true)
    assert.equal(matches({ methods: ['GET', 'HEAD'] }, { method: 'POST' }), false)
    assert.equal(matches({ methods: ['POST'] }, { method: 'POST' }), true)
  })
})

describe('compileRule: headers', () => {
  const headers: HeaderList = [['x-preview', '1'], ['accept', 'text/html'], ['accept', 'application/json']]

  test('true: present (any value, even empty)', () => {
    assert.equal(matches({ headers: { 'x-preview': true } }, { headers }), true)
    assert.equal(matches({ headers: { 'x-preview': true } }, { headers: [['x-preview', '']] }), true)
    assert.equal(matches({ headers: { 'x-preview': true } }), false)
  })

  test('false: absent', () => {
    assert.equal(matches({ headers: { authorization: false } }, { headers }), true)
    assert.equal(matches({ headers: { authorization: false } }, { headers: [['authorization', 'Bearer x']] }), false)
  })

  test('a string: one field line equal to it', () => {
    assert.equal(matches({ headers: { 'x-preview': '1' } }, { headers }), true)
    assert.equal(matches({ headers: { 'x-preview': '0' } }, { headers }), false)
    assert.equal(matches({ headers: { accept: 'application/json' } }, { headers }), true)
    assert.equal(matches({ headers: { 'x-preview': '1' } }), false)
  })

  test('names are case-insensitive', () => {
    assert.equal(matches({ headers: { 'X-Preview': '1' } }, { headers }), true)
  })

  test('several headers: all of them', () => {
    assert.equal(matches({ headers: { 'x-preview': '1', authorization: false } }, { headers }), true)
    assert.equal(matches({ headers: { 'x-preview': '1', 'x-other': true } }, { headers }), false)
  })
})

describe('compileRule: cookies', () => {
  const headers: HeaderList = [['cookie', '_ga=1; theme=dark'], ['cookie', 'beta=on']]

  test('true: present; false: absent', () => {
    assert.equal(matches({ cookies: { theme: true } }, { headers }), true)
    assert.equal(matches({ cookies: { beta: true } }, { headers }), true)
    assert.equal(matches({ cookies: { session: true } }, { headers }), false)
    assert.equal(matches({ cookies: { session: false } }, { headers }), true)
    assert.equal(matches({ cookies: { theme: false } }, { headers }), false)
    assert.equal(matches({ cookies: { session: false } }), true)
  })

  test('a string: the value equal to it', () => {
    assert.equal(matches({ cookies: { theme: 'dark' } }, { headers }), true)
    assert.equal(matches({ cookies: { theme: 'light' } }, { headers }), false)
  })

  test('names take * wildcards and are case-sensitive', () => {
    assert.equal(matches({ cookies: { 'wordpress_logged_in_*': true } }, { headers: [['cookie', 'wordpress_logged_in_abc=x']] }), true)
    assert.equal(matches({ cookies: { 'wordpress_logged_in_*': false } }, { headers: [['cookie', 'wordpress_logged_in_abc=x']] }), false)
    assert.equal(matches({ cookies: { Theme: true } }, { headers }), false)
  })

  test('all match keys together are and-ed', () => {
    const match = { host: 'example.com', methods: ['GET'], path: '/beta/**', headers: { 'x-preview': false }, cookies: { beta: 'on' } }
    assert.equal(matches(match, { path: '/beta/x', headers }), true)
    assert.equal(matches(match, { path: '/beta/x', headers: [...headers, ['x-preview', '1']] }), false)
    assert.equal(matches(match, { path: '/beta/x', headers, method: 'POST' }), false)
    assert.equal(matches(match, { path: '/beta/x', headers, host: 'other.test' }), false)
    assert.equal(matches(match, { path: '/alpha/x', headers }), false)
    assert.equal(matches(match, { path: '/beta/x', headers: [['cookie', 'beta=off']] }), false)
  })
})

describe('matchRule', () => {
  const rules = [
    compileRule({ name: 'checkout', match: { path: '/checkout/**' }, pass: true }, 0),
    compileRule({ name: 'api', match: { pathRegex: '^/api/' } }, 1),
    compileRule({ name: 'catch-all', match: { path: '/**' }, ttlMs: 1000 }, 2),
    compileRule({ name: 'never reached', match: { path: '/checkout/**' }, cache: true }, 3),
  ]

  test('the first rule that matches wins', () => {
    assert.equal(matchRule(rules, req({ path: '/checkout/pay' }))?.name, 'checkout')
    assert.equal(matchRule(rules, req({ path: '/api/users' }))?.name, 'api')
    assert.equal(matchRule(rules, req({ path: '/home' }))?.name, 'catch-all')
  })

  test('no rule matches: undefined', () => {
    assert.equal(matchRule(rules.slice(0, 2), req({ path: '/home' })), undefined)
    assert.equal(matchRule([], req()), undefined)
  })
})

describe('normalisePath', () => {
  const tracking = ['utm_*', 'fbclid', 'gclid'].map(namePattern)

  test('no query: unchanged', () => {
    assert.equal(normalisePath('/a/b', tracking), '/a/b')
    assert.equal(normalisePath('/a/b', tracking, 'sort'), '/a/b')
    assert.equal(normalisePath('/a/b', tracking, 'drop'), '/a/b')
  })

  test('dropParams removes matching parameters, the rest keep their order', () => {
    assert.equal(normalisePath('/a?b=2&utm_source=x&a=1&fbclid=y', tracking), '/a?b=2&a=1')
    assert.equal(normalisePath('/a?utm_source=x&utm_medium=y', tracking), '/a')
    assert.equal(normalisePath('/a?utm_source', tracking), '/a')
  })

  test('parameter names are matched decoded', () => {
    assert.equal(normalisePath('/a?utm%5Fsource=x&b=1', tracking), '/a?b=1')
  })

  test('a parameter whose name merely contains a dropped one is kept', () => {
    assert.equal(normalisePath('/a?my_utm_source=1&gclidx=2', tracking), '/a?my_utm_source=1&gclidx=2')
  })

  test('query: keep leaves the query as it is without dropParams', () => {
    assert.equal(normalisePath('/a?b=2&a=1', []), '/a?b=2&a=1')
    assert.equal(normalisePath('/a?b=2&a=1', [], 'keep'), '/a?b=2&a=1')
  })

  test('query: drop removes the whole query', () => {
    assert.equal(normalisePath('/a?b=2&a=1', tracking, 'drop'), '/a')
    assert.equal(normalisePath('/a?b=2', [], 'drop'), '/a')
  })

  test('query: sort orders the parameters, after dropping', () => {
    assert.equal(normalisePath('/a?b=2&a=1&c=3', [], 'sort'), '/a?a=1&b=2&c=3')
    assert.equal(normalisePath('/a?utm_source=z&b=2&a=1', tracking, 'sort'), '/a?a=1&b=2')
    assert.equal(normalisePath('/a?x=2&x=1', [], 'sort'), '/a?x=1&x=2')
  })

  test('empty pairs are removed when the query is rewritten', () => {
    assert.equal(normalisePath('/a?b=1&&utm_source=x&', tracking), '/a?b=1')
  })
})

describe('namePattern', () => {
  test('exact without *', () => {
    assert.equal(namePattern('sid').test('sid'), true)
    assert.equal(namePattern('sid').test('sidx'), false)
    assert.equal(namePattern('sid').test('xsid'), false)
  })

  test('* at the end, the start, the middle or several', () => {
    assert.equal(namePattern('utm_*').test('utm_source'), true)
    assert.equal(namePattern('utm_*').test('utm_'), true)
    assert.equal(namePattern('utm_*').test('xutm_source'), false)
    assert.equal(namePattern('*_session').test('myapp_session'), true)
    assert.equal(namePattern('*_session').test('myapp_session_x'), false)
    assert.equal(namePattern('wp_*_id').test('wp_user_id'), true)
    assert.equal(namePattern('wp_*_id').test('wp_user_idx'), false)
    assert.equal(namePattern('*sess*').test('PHPsessID'), true)
    assert.equal(namePattern('*').test('anything'), true)
  })

  test('regex characters are literal', () => {
    assert.equal(namePattern('connect.sid').test('connect.sid'), true)
    assert.equal(namePattern('connect.sid').test('connectXsid'), false)
    assert.equal(namePattern('a+b').test('a+b'), true)
    assert.equal(namePattern('a+b').test('aab'), false)
    assert.equal(namePattern('(x)|[y]').test('(x)|[y]'), true)
    assert.equal(namePattern('a$b^').test('a$b^'), true)
  })

  test('case-sensitive', () => {
    assert.equal(namePattern('SESS*').test('sessabc'), false)
  })
})

describe('parseCookies', () => {
  test('name/value pairs from every Cookie line, trimmed', () => {
    assert.deepEqual(parseCookies([['cookie', ' a=1 ;b= 2'], ['accept', 'x'], ['cookie', 'c=3=4; flag;;']]), [['a', '1'], ['b', '2'], ['c', '3=4'], ['flag', '']])
    assert.deepEqual(parseCookies([]), [])
  })
})

describe('userKey', () => {
  const A = 'secret-number-one-0123456789'
  const B = 'secret-number-two-0123456789'

  test('deterministic for one secret and value', () => {
    assert.equal(userKey(A, 'alice'), userKey(A, 'alice'))
  })

  test('differs across values and across secrets', () => {
    assert.notEqual(userKey(A, 'alice'), userKey(A, 'bob'))
    assert.notEqual(userKey(A, 'alice'), userKey(B, 'alice'))
  })

  test('a short base64url string that does not contain the value', () => {
    const key = userKey(A, 'alice-session-token')
    assert.match(key, /^[A-Za-z0-9_-]{32}$/)
    assert.doesNotMatch(key, /alice/)
  })
})
