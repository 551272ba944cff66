/**
 * p001: config rules (data policy) in front of a real origin. The first matching rule wins;
 * rules match on host glob, path glob, path regex, method, header and cookie; `ttl` gives a
 * lifetime (also to a response without freshness information, and over max-age); `grace`
 * serves stale while one background fetch refreshes; `pass` forwards even cacheable
 * responses; `cache` stores a page requested with a session cookie (cookie not forwarded,
 * Set-Cookie stripped); `perUser` gives each user (cookie or header) their own copy, bounded
 * by `perUser.maxEntriesPerUser`; `requestHeaders`/`responseHeaders` edit what the origin and
 * the client get; `key` drops or sorts the query, drops parameters (utm_*, fbclid by default:
 * from the key and from the URL forwarded) and varies on request headers; `cookies` lists
 * ignored and session cookies and what an unknown cookie does; a reload swaps the rules and
 * keeps the store.
 */
import assert from 'node:assert/strict'
import type http from 'node:http'
import { after, before, describe, test, type TestContext } from 'node:test'
import type { ProxyOptions } from '../../src/index.js'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy, type TestResponse } from '../helpers/proxy.js'
import { PAST_ONE_SECOND_MS, deferred, waitUntil } from '../helpers/rfc-scenario.js'

let origin: TestOrigin
before(async () => { origin = await startOrigin() })
after(async () => { await origin.close() })

type Config = Omit<Partial<ProxyOptions>, 'origin'>

/** A Lacquer with `config` in front of the file's origin, closed when the test ends. */
async function lacquer(t: TestContext, config: Config): Promise<TestProxy> {
  const proxy = await startProxy({ ...config, origin: origin.url })
  t.after(() => proxy.close())
  return proxy
}

type Headers = http.OutgoingHttpHeaders | ((req: http.IncomingMessage) => http.OutgoingHttpHeaders)

/**
 * Serves `path` with `headers`; the body is `body(req, n)`, by default `${path} #n` with n
 * counting the requests answered.
 */
function serve(path: string, headers: Headers, body: (req: http.IncomingMessage, n: number) => string = (_req, n) => `${path} #${n}`): void {
  let n = 0
  origin.on(path, (req, res) => {
    n++
    res.writeHead(200, { 'content-type': 'text/plain', ...(typeof headers === 'function' ? headers(req) : headers) })
    res.end(body(req, n))
  })
}

function get(proxy: TestProxy, path: string, headers?: Record<string, string>): Promise<TestResponse> {
  return request(`${proxy.url}${path}`, { headers })
}

/** What the origin received for `url` (path + query) last. */
function lastReceived(url: string) {
  const all = origin.received.filter((r) => r.url === url)
  assert.ok(all.length > 0, `the origin received ${url}`)
  return all[all.length - 1]!
}

/** Requests the origin received whose path (without query) is `path`. */
function receivedPath(path: string) {
  return origin.received.filter((r) => r.url.split('?', 1)[0] === path)
}

const FRESH = { 'cache-control': 'max-age=60' }

describe('matching', () => {
  test('the first matching rule wins, and only its actions apply', async (t) => {
    const proxy = await lacquer(t, {
      rules: [
        { match: { path: '/order/special' }, responseHeaders: { set: { 'x-rule': 'special' } } },
        { match: { path: '/order/**' }, responseHeaders: { set: { 'x-rule': 'general', 'x-general': 'yes' } } },
        { match: { path: '/order/**' }, pass: true },
      ],
    })
    serve('/order/special', FRESH)
    serve('/order/other', FRESH)
    const special = await get(proxy, '/order/special')
    assert.equal(special.headers['x-rule'], 'special')
    assert.equal(special.headers['x-general'], undefined, 'the second rule also matches but does not apply')
    const other = await get(proxy, '/order/other')
    assert.equal(other.headers['x-rule'], 'general')
    assert.equal(other.headers['x-general'], 'yes')
    // the third rule (pass) never applies: the second one matched first
    assert.ok(isHit(await get(proxy, '/order/other')))
    assert.ok(isHit(await get(proxy, '/order/special')))
    assert.equal(origin.count('/order/other'), 1)
    assert.equal(origin.count('/order/special'), 1)
  })

  test('a host glob matches the Host without its port; other hosts do not match', async (t) => {
    const proxy = await lacquer(t, {
      rules: [
        { match: { host: '*.example.com' }, responseHeaders: { set: { 'x-rule': 'example' } } },
        { match: { host: ['static.cdn.test', 'img.cdn.test'] }, responseHeaders: { set: { 'x-rule': 'cdn' } } },
      ],
    })
    serve('/host-page', FRESH)
    assert.equal((await get(proxy, '/host-page', { host: 'shop.example.com' })).headers['x-rule'], 'example')
    assert.equal((await get(proxy, '/host-page', { host: 'Shop.Example.com:8080' })).headers['x-rule'], 'example')
    assert.equal((await get(proxy, '/host-page', { host: 'img.cdn.test' })).headers['x-rule'], 'cdn')
    assert.equal((await get(proxy, '/host-page', { host: 'example.com' })).headers['x-rule'], undefined, '*.example.com needs a subdomain')
    assert.equal((await get(proxy, '/host-page', { host: 'shop.example.org' })).headers['x-rule'], undefined)
    assert.equal((await get(proxy, '/host-page', { host: 'evil.test' })).headers['x-rule'], undefined)
  })

  test('a path glob: ** crosses segments, * does not, the query is not part of the path', async (t) => {
    const proxy = await lacquer(t, {
      rules: [
        { match: { path: '/products/**' }, responseHeaders: { set: { 'x-rule': 'products' } } },
        { match: { path: ['/blog/*', '/news/*'] }, responseHeaders: { set: { 'x-rule': 'post' } } },
      ],
    })
    origin.on('*', (req, res) => { res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }); res.end(`page ${req.url}`) })
    const rule = async (path: string) => (await get(proxy, path)).headers['x-rule']
    assert.equal(await rule('/products/shoes/42'), 'products')
    assert.equal(await rule('/products/shoes?color=red'), 'products')
    assert.equal(await rule('/productsx/shoes'), undefined)
    assert.equal(await rule('/blog/hello'), 'post')
    assert.equal(await rule('/news/today?page=2'), 'post')
    assert.equal(await rule('/blog/2024/hello'), undefined)
    assert.equal(await rule('/about'), undefined)
  })

  test('a pathRegex matches the path by regular expression', async (t) => {
    const proxy = await lacquer(t, {
      rules: [
        { match: { pathRegex: '^/api/v[0-9]+/' }, pass: true },
        { match: { pathRegex: '[?&]preview=1(&|$)' }, pass: true },
      ],
    })
    serve('/api/v2/users', FRESH)
    serve('/api/vx/users', FRESH)
    const first = await get(proxy, '/api/v2/users')
    assert.match(cacheStatus(first), /detail=RULE-PASS/)
    await get(proxy, '/api/v2/users')
    assert.equal(origin.count('/api/v2/users'), 2)
    const other = await get(proxy, '/api/vx/users')
    assert.doesNotMatch(cacheStatus(other), /RULE-PASS/)
    assert.ok(isHit(await get(proxy, '/api/vx/users')))
    assert.equal(origin.count('/api/vx/users'), 1)
    // a pathRegex sees the query too
    serve('/draft', FRESH)
    assert.match(cacheStatus(await get(proxy, '/draft?x=1&preview=1')), /detail=RULE-PASS/)
    await get(proxy, '/draft?preview=10')
    assert.ok(isHit(await get(proxy, '/draft?preview=10')))
  })

  test('methods: a rule for POST does not match GET', async (t) => {
    const proxy = await lacquer(t, {
      rules: [{ match: { methods: ['POST', 'PUT'] }, responseHeaders: { set: { 'x-rule': 'write' } } }],
    })
    serve('/form', { 'cache-control': 'no-store' })
    assert.equal((await request(`${proxy.url}/form`, { method: 'POST', body: 'a=1' })).headers['x-rule'], 'write')
    assert.equal((await request(`${proxy.url}/form`, { method: 'PUT', body: 'a=1' })).headers['x-rule'], 'write')
    assert.equal((await get(proxy, '/form')).headers['x-rule'], undefined)
  })

  test('headers: an exact value, presence (true) and absence (false)', async (t) => {
    const proxy = await lacquer(t, {
      rules: [
        { match: { headers: { 'X-Beta': 'on' } }, responseHeaders: { set: { 'x-rule': 'beta' } } },
        { match: { headers: { 'x-mobile': true, 'x-desktop': false } }, responseHeaders: { set: { 'x-rule': 'mobile' } } },
      ],
    })
    serve('/hdr', { 'cache-control': 'no-store' })
    const rule = async (headers: Record<string, string>) => (await get(proxy, '/hdr', headers)).headers['x-rule']
    assert.equal(await rule({ 'x-beta': 'on' }), 'beta')
    assert.equal(await rule({ 'x-beta': 'off' }), undefined)
    assert.equal(await rule({ 'x-mobile': '1' }), 'mobile')
    assert.equal(await rule({ 'x-mobile': '' }), 'mobile', 'present, even empty')
    assert.equal(await rule({ 'x-mobile': '1', 'x-desktop': '1' }), undefined, 'x-desktop must be absent')
    assert.equal(await rule({}), undefined)
  })

  test('cookies: an exact value, a wildcard name with presence, and absence', async (t) => {
    const proxy = await lacquer(t, {
      cookies: { unknown: 'ignore' },
      rules: [
        { match: { cookies: { ab_group: 'b' } }, responseHeaders: { set: { 'x-rule': 'group-b' } } },
        { match: { cookies: { 'wp_*': true, logged_out: false } }, responseHeaders: { set: { 'x-rule': 'wp' } } },
      ],
    })
    serve('/ck', { 'cache-control': 'no-store' })
    const rule = async (cookie?: string) => (await get(proxy, '/ck', cookie ? { cookie } : {})).headers['x-rule']
    assert.equal(await rule('ab_group=b'), 'group-b')
    assert.equal(await rule('x=1; ab_group=b'), 'group-b')
    assert.equal(await rule('ab_group=a'), undefined)
    assert.equal(await rule('wp_user=7'), 'wp')
    assert.equal(await rule('wp_user=7; logged_out=1'), undefined)
    assert.equal(await rule('wpx=1'), undefined)
    assert.equal(await rule(), undefined)
  })
})

describe('lifetimes', { concurrency: true }, () => {
  test('ttl makes a response without freshness information cacheable, and it expires after ttl', async (t) => {
    const proxy = await lacquer(t, {
      rules: [
        { match: { path: '/ttl/**' }, ttl: '1s' },
        { match: { path: '/ttl-long/**' }, ttl: '60s' },
      ],
    })
    // a 200 with no Cache-Control, Expires or Last-Modified; a 302, not heuristically cacheable
    serve('/ttl/plain', {})
    serve('/ttl/over-max-age', { 'cache-control': 'max-age=600' })
    serve('/ttl-long/max-age-0', { 'cache-control': 'max-age=0' })
    let redirects = 0
    origin.on('/ttl-long/redirect', (_req, res) => { redirects++; res.writeHead(302, { location: `/to/${redirects}` }); res.end() })
    serve('/no-rule/plain', {})
    serve('/ttl/no-store', { 'cache-control': 'no-store' })
    serve('/ttl/private', { 'cache-control': 'private' })

    // without a rule, a response without freshness information is not reused
    await get(proxy, '/no-rule/plain')
    assert.ok(!isHit(await get(proxy, '/no-rule/plain')))
    assert.equal(origin.count('/no-rule/plain'), 2)

    const first = await get(proxy, '/ttl/plain')
    assert.match(cacheStatus(first), /; stored/)
    const second = await get(proxy, '/ttl/plain')
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(second.body, '/ttl/plain #1')
    await get(proxy, '/ttl/over-max-age')
    assert.ok(isHit(await get(proxy, '/ttl/over-max-age')))
    // a ttl gives a lifetime; it never overrules no-store or private
    for (const path of ['/ttl/no-store', '/ttl/private']) {
      await get(proxy, path)
      assert.ok(!isHit(await get(proxy, path)), path)
      assert.equal(origin.count(path), 2, path)
    }

    // ttl replaces max-age both ways: max-age=0 is kept 60 s, a 302 without freshness is stored
    await get(proxy, '/ttl-long/max-age-0')
    const long = await get(proxy, '/ttl-long/max-age-0')
    assert.ok(isHit(long), cacheStatus(long))
    assert.match(cacheStatus(long), /ttl=(59|60)(;|$)/)
    const redirect = await get(proxy, '/ttl-long/redirect')
    assert.equal(redirect.status, 302)
    const redirectAgain = await get(proxy, '/ttl-long/redirect')
    assert.ok(isHit(redirectAgain), cacheStatus(redirectAgain))
    assert.equal(redirectAgain.headers.location, '/to/1')
    assert.equal(redirects, 1)

    await sleep(PAST_ONE_SECOND_MS)
    const expired = await get(proxy, '/ttl/plain')
    assert.ok(!isHit(expired), `ttl 1s has run out: ${cacheStatus(expired)}`)
    assert.equal(expired.body, '/ttl/plain #2')
    const overridden = await get(proxy, '/ttl/over-max-age')
    assert.ok(!isHit(overridden), `ttl 1s replaces max-age=600: ${cacheStatus(overridden)}`)
    assert.equal(origin.count('/ttl/over-max-age'), 2)
    assert.ok(isHit(await get(proxy, '/ttl-long/max-age-0')))
    assert.equal(origin.count('/ttl-long/max-age-0'), 1)
  })

  test('grace serves the stale object at once while exactly one background fetch refreshes it', async (t) => {
    const proxy = await lacquer(t, { rules: [{ match: { path: '/grace' }, ttl: '1s', grace: '30s' }] })
    const release = deferred()
    t.after(() => release.resolve())
    let n = 0
    origin.on('/grace', async (_req, res) => {
      n++
      // held until the test has seen the stale hits (at most 1 s, so that a broken grace fails fast)
      if (n > 1) await Promise.race([release.promise, sleep(1000)])
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end(`grace v${n}`)
    })
    await get(proxy, '/grace')
    await sleep(PAST_ONE_SECOND_MS)
    // the origin holds the refresh back: every request meanwhile gets the stale object at once
    const stale = await Promise.all(Array.from({ length: 5 }, () => get(proxy, '/grace')))
    for (const res of stale) {
      assert.equal(res.body, 'grace v1')
      assert.ok(isHit(res), cacheStatus(res))
      assert.match(cacheStatus(res), /detail=STALE-WHILE-REVALIDATE/)
    }
    const later = await get(proxy, '/grace')
    assert.equal(later.body, 'grace v1')
    await waitUntil(() => origin.count('/grace') >= 2, 2000, 'the background refresh')
    await sleep(50)
    assert.equal(origin.count('/grace'), 2, 'one background refresh for all the stale hits')
    release.resolve()
    let refreshed = await get(proxy, '/grace')
    for (let i = 0; i < 50 && refreshed.body !== 'grace v2'; i++) { await sleep(10); refreshed = await get(proxy, '/grace') }
    assert.equal(refreshed.body, 'grace v2')
    assert.ok(isHit(refreshed), cacheStatus(refreshed))
    assert.doesNotMatch(cacheStatus(refreshed), /STALE-WHILE-REVALIDATE/)
    assert.equal(origin.count('/grace'), 2)
  })

  test('a response without grace is not served stale: the client waits for the origin', async (t) => {
    const proxy = await lacquer(t, { rules: [{ match: { path: '/no-grace' }, ttl: '1s' }] })
    serve('/no-grace', {})
    await get(proxy, '/no-grace')
    await sleep(PAST_ONE_SECOND_MS)
    const res = await get(proxy, '/no-grace')
    assert.equal(res.body, '/no-grace #2')
    assert.ok(!isHit(res))
  })
})

describe('pass and cache', () => {
  test('pass forwards every request, even for a cacheable response (Cache-Status detail=RULE-PASS)', async (t) => {
    const proxy = await lacquer(t, { rules: [{ match: { path: '/checkout/**' }, pass: true }] })
    serve('/checkout/cart', { 'cache-control': 'public, max-age=600' })
    const first = await get(proxy, '/checkout/cart')
    const second = await get(proxy, '/checkout/cart')
    for (const res of [first, second]) {
      assert.ok(!isHit(res))
      assert.match(cacheStatus(res), /fwd=bypass/)
      assert.match(cacheStatus(res), /detail=RULE-PASS/)
      assert.doesNotMatch(cacheStatus(res), /; stored/)
    }
    assert.equal(second.body, '/checkout/cart #2')
    assert.equal(origin.count('/checkout/cart'), 2)
    assert.equal(proxy.proxy.store.stats().objects, 0)
  })

  test('cache: true stores a page asked for with a session cookie; the origin never gets the cookie; Set-Cookie is stripped', async (t) => {
    const proxy = await lacquer(t, { rules: [{ match: { path: '/catalog/**' }, cache: true }] })
    serve('/catalog/list', { 'cache-control': 'max-age=60', 'set-cookie': 'tracker=xyz; Path=/' },
      (req, n) => `catalog #${n} cookie=${req.headers.cookie ?? 'none'}`)
    serve('/account', { 'cache-control': 'max-age=60' }, (req) => `account cookie=${req.headers.cookie ?? 'none'}`)

    const alice = await get(proxy, '/catalog/list', { cookie: 'session=alice; theme=dark' })
    assert.equal(alice.status, 200)
    assert.equal(alice.body, 'catalog #1 cookie=none')
    assert.equal(alice.headers['set-cookie'], undefined, 'Set-Cookie is stripped from the delivered response')
    assert.match(cacheStatus(alice), /; stored/)
    assert.equal(lastReceived('/catalog/list').headers.cookie, undefined)

    const bob = await get(proxy, '/catalog/list', { cookie: 'session=bob' })
    assert.ok(isHit(bob), cacheStatus(bob))
    assert.equal(bob.body, 'catalog #1 cookie=none')
    assert.equal(bob.headers['set-cookie'], undefined)
    assert.ok(isHit(await get(proxy, '/catalog/list')))
    assert.equal(origin.count('/catalog/list'), 1)

    const stored = await proxy.proxy.store.lookup(`http://${new URL(proxy.url).host}/catalog/list`, [])
    assert.ok(stored, 'the page is stored')
    assert.ok(!stored.headers.some(([name]) => name === 'set-cookie'), 'the stored response has no Set-Cookie')

    // outside the rule, the session cookie still passes the request
    const account = await get(proxy, '/account', { cookie: 'session=alice' })
    assert.equal(account.body, 'account cookie=session=alice')
    assert.match(cacheStatus(account), /detail=REQUEST-COOKIE/)
  })
})

describe('perUser', () => {
  test('by cookie: each user gets their own copy, fetched once per user; anonymous users share one', async (t) => {
    const proxy = await lacquer(t, { rules: [{ match: { path: '/me/**' }, perUser: { cookie: 'session' } }] })
    // like an app: a signed-in user's page is private, the anonymous one is public
    const privateForUsers = (req: http.IncomingMessage) => ({ 'cache-control': req.headers.cookie ? 'private, max-age=60' : 'max-age=60' })
    serve('/me/home', privateForUsers, (req, n) => `home #${n} for ${req.headers.cookie ?? 'nobody'}`)
    const as = (cookie?: string) => get(proxy, '/me/home', cookie ? { cookie } : {})

    const alice = await as('session=alice')
    assert.equal(alice.body, 'home #1 for session=alice')
    assert.match(cacheStatus(alice), /; stored/)
    const bob = await as('session=bob')
    assert.equal(bob.body, 'home #2 for session=bob')
    assert.ok(!isHit(bob), 'bob never gets alice\'s copy')
    const anonymous = await as()
    assert.equal(anonymous.body, 'home #3 for nobody')

    const alice2 = await as('session=alice; _ga=GA1.2.3')
    assert.ok(isHit(alice2), cacheStatus(alice2))
    assert.equal(alice2.body, 'home #1 for session=alice')
    const bob2 = await as('session=bob')
    assert.ok(isHit(bob2))
    assert.equal(bob2.body, 'home #2 for session=bob')
    const anonymous2 = await as()
    assert.ok(isHit(anonymous2))
    assert.equal(anonymous2.body, 'home #3 for nobody')
    const anonymousTracked = await as('_ga=GA1.2.4')
    assert.ok(isHit(anonymousTracked), 'a tracking cookie alone is anonymous')
    assert.equal(anonymousTracked.body, 'home #3 for nobody')

    assert.equal(origin.count('/me/home'), 3)
    const cookies = origin.received.filter((r) => r.url === '/me/home').map((r) => r.headers.cookie)
    assert.deepEqual(cookies, ['session=alice', 'session=bob', undefined], 'the session cookie reaches the origin, nothing else')

    // a private answer to an anonymous request is one client's: the shared anonymous entry never gets it
    serve('/me/private-anyway', { 'cache-control': 'private, max-age=60' })
    const first = await get(proxy, '/me/private-anyway')
    assert.doesNotMatch(cacheStatus(first), /; stored/)
    assert.ok(!isHit(await get(proxy, '/me/private-anyway')))
    assert.equal(origin.count('/me/private-anyway'), 2)
  })

  test('by the Authorization header: each user gets their own copy; anonymous users share one', async (t) => {
    const proxy = await lacquer(t, { rules: [{ match: { path: '/api/me' }, perUser: { header: 'authorization' } }] })
    serve('/api/me', { 'cache-control': 'max-age=60' }, (req, n) => `me #${n} for ${req.headers.authorization ?? 'nobody'}`)
    const as = (authorization?: string) => get(proxy, '/api/me', authorization ? { authorization } : {})
    assert.equal((await as('Bearer alice')).body, 'me #1 for Bearer alice')
    assert.equal((await as('Bearer bob')).body, 'me #2 for Bearer bob')
    assert.equal((await as()).body, 'me #3 for nobody')
    const alice = await as('Bearer alice')
    assert.ok(isHit(alice), cacheStatus(alice))
    assert.equal(alice.body, 'me #1 for Bearer alice')
    assert.equal((await as('Bearer bob')).body, 'me #2 for Bearer bob')
    assert.equal((await as()).body, 'me #3 for nobody')
    assert.equal((await as('Bearer carol')).body, 'me #4 for Bearer carol')
    assert.equal(origin.count('/api/me'), 4)
  })

  test('maxEntriesPerUser bounds one user\'s entries: their 3rd page evicts their 1st, others\' entries stay', async (t) => {
    const proxy = await lacquer(t, {
      perUser: { maxEntriesPerUser: 2 },
      rules: [{ match: { path: '/u/**' }, perUser: { cookie: 'session' } }],
    })
    const privateForUsers = (req: http.IncomingMessage) => ({ 'cache-control': req.headers.cookie ? 'private, max-age=60' : 'max-age=60' })
    for (const page of ['/u/1', '/u/2', '/u/3']) serve(page, privateForUsers, (req, n) => `${page} #${n} for ${req.headers.cookie ?? 'nobody'}`)
    serve('/public', FRESH)
    const as = (who: string | undefined, path: string) => get(proxy, path, who ? { cookie: `session=${who}` } : {})

    await get(proxy, '/public')
    await as('bob', '/u/1')
    await as(undefined, '/u/1')
    await as('alice', '/u/1')
    await as('alice', '/u/2')
    await as('alice', '/u/3')
    assert.equal(proxy.proxy.store.stats().objects, 5, 'public + bob + anonymous + alice\'s last two')
    assert.ok(proxy.proxy.store.stats().evictions >= 1)

    const alice2 = await as('alice', '/u/2')
    assert.ok(isHit(alice2), cacheStatus(alice2))
    const alice3 = await as('alice', '/u/3')
    assert.ok(isHit(alice3), cacheStatus(alice3))
    const bob1 = await as('bob', '/u/1')
    assert.ok(isHit(bob1), 'another user\'s entry stays')
    assert.equal(bob1.body, '/u/1 #1 for session=bob')
    const anonymous1 = await as(undefined, '/u/1')
    assert.ok(isHit(anonymous1), 'the anonymous entry stays')
    assert.ok(isHit(await get(proxy, '/public')), 'the site\'s public entries stay')
    const alice1 = await as('alice', '/u/1')
    assert.ok(!isHit(alice1), `alice's first page was evicted: ${cacheStatus(alice1)}`)
    assert.equal(alice1.body, '/u/1 #4 for session=alice')
  })
})

describe('header edits', () => {
  test('requestHeaders set and unset reach the origin, on a looked-up and on a passed route', async (t) => {
    const edits = { set: { 'X-From-Proxy': 'yes', 'x-client': 'replaced' }, unset: ['x-secret'] }
    const proxy = await lacquer(t, {
      rules: [
        { match: { path: '/req-edit' }, requestHeaders: edits },
        { match: { path: '/req-edit-pass' }, pass: true, requestHeaders: edits },
      ],
    })
    serve('/req-edit', FRESH)
    serve('/req-edit-pass', FRESH)
    for (const path of ['/req-edit', '/req-edit-pass']) {
      await get(proxy, path, { 'x-secret': 'hunter2', 'x-client': 'original', 'x-other': 'kept' })
      const received = lastReceived(path).headers
      assert.equal(received['x-from-proxy'], 'yes', path)
      assert.equal(received['x-client'], 'replaced', path)
      assert.equal(received['x-secret'], undefined, path)
      assert.equal(received['x-other'], 'kept', path)
    }
    serve('/no-edit', FRESH)
    await get(proxy, '/no-edit', { 'x-secret': 'hunter2' })
    assert.equal(lastReceived('/no-edit').headers['x-secret'], 'hunter2', 'only the matching rule edits')
  })

  test('responseHeaders set and unset change what the client gets, on a miss and on a hit', async (t) => {
    const proxy = await lacquer(t, {
      rules: [{ match: { path: '/resp-edit' }, responseHeaders: { set: { 'X-Frame-Options': 'DENY' }, unset: ['x-powered-by', 'Server'] } }],
    })
    serve('/resp-edit', { ...FRESH, 'x-powered-by': 'PHP/5', server: 'apache', 'x-kept': 'yes' })
    const miss = await get(proxy, '/resp-edit')
    const hit = await get(proxy, '/resp-edit')
    assert.ok(isHit(hit))
    for (const res of [miss, hit]) {
      assert.equal(res.headers['x-frame-options'], 'DENY')
      assert.equal(res.headers['x-powered-by'], undefined)
      assert.equal(res.headers.server, undefined)
      assert.equal(res.headers['x-kept'], 'yes')
    }
  })
})

describe('key', () => {
  test('query drop: every query shares one entry and the origin gets the path alone', async (t) => {
    const proxy = await lacquer(t, { rules: [{ match: { path: '/landing' }, key: { query: 'drop' } }] })
    serve('/landing', FRESH)
    const first = await get(proxy, '/landing?ref=a&x=1')
    assert.equal(first.body, '/landing #1')
    assert.ok(isHit(await get(proxy, '/landing?b=2')))
    assert.ok(isHit(await get(proxy, '/landing')))
    assert.deepEqual(receivedPath('/landing').map((r) => r.url), ['/landing'])
  })

  test('query sort: parameter order does not matter and the origin gets them sorted', async (t) => {
    const proxy = await lacquer(t, { rules: [{ match: { path: '/sorted' }, key: { query: 'sort' } }] })
    serve('/sorted', FRESH)
    await get(proxy, '/sorted?b=2&a=1&c=3')
    assert.ok(isHit(await get(proxy, '/sorted?c=3&a=1&b=2')))
    assert.ok(!isHit(await get(proxy, '/sorted?a=1&b=3')))
    assert.deepEqual(receivedPath('/sorted').map((r) => r.url), ['/sorted?a=1&b=2&c=3', '/sorted?a=1&b=3'])
  })

  test('query keep (default): different queries are different entries', async (t) => {
    const proxy = await lacquer(t, {})
    serve('/kept', FRESH)
    await get(proxy, '/kept?b=2&a=1')
    assert.ok(!isHit(await get(proxy, '/kept?a=1&b=2')))
    assert.ok(isHit(await get(proxy, '/kept?b=2&a=1')))
    assert.deepEqual(receivedPath('/kept').map((r) => r.url), ['/kept?b=2&a=1', '/kept?a=1&b=2'])
  })

  test('utm_* and fbclid are dropped by default from the key and from the URL the origin gets', async (t) => {
    const proxy = await lacquer(t, {})
    serve('/article', FRESH)
    const first = await get(proxy, '/article?id=7&utm_source=news&utm_medium=mail&fbclid=abc')
    assert.equal(first.body, '/article #1')
    assert.ok(isHit(await get(proxy, '/article?utm_campaign=x&id=7')))
    assert.ok(isHit(await get(proxy, '/article?id=7&fbclid=zzz')))
    assert.ok(isHit(await get(proxy, '/article?id=7')))
    assert.ok(!isHit(await get(proxy, '/article?id=8&utm_source=news')))
    assert.deepEqual(receivedPath('/article').map((r) => r.url), ['/article?id=7', '/article?id=8'])
    await get(proxy, '/article?utm_source=only')
    assert.equal(receivedPath('/article').at(-1)!.url, '/article', 'a query of tracking parameters alone disappears')
  })

  test('a rule\'s dropParams adds to the list; the top-level key.dropParams replaces the default', async (t) => {
    const ruled = await lacquer(t, { rules: [{ match: { path: '/shop' }, key: { dropParams: ['ref', 'sess_*'] } }] })
    serve('/shop', FRESH)
    await get(ruled, '/shop?ref=home&id=1&sess_x=9&utm_source=a')
    assert.ok(isHit(await get(ruled, '/shop?id=1&ref=other')))
    assert.deepEqual(receivedPath('/shop').map((r) => r.url), ['/shop?id=1'])

    const replaced = await lacquer(t, { key: { dropParams: ['sid'] } })
    serve('/replaced', FRESH)
    await get(replaced, '/replaced?id=1&sid=abc')
    assert.ok(isHit(await get(replaced, '/replaced?sid=def&id=1')))
    await get(replaced, '/replaced?id=1&utm_source=a')
    assert.deepEqual(receivedPath('/replaced').map((r) => r.url), ['/replaced?id=1', '/replaced?id=1&utm_source=a'],
      'utm_source is no longer dropped once the list is replaced')
  })

  test('key.vary adds a request header to the key', async (t) => {
    const proxy = await lacquer(t, { rules: [{ match: { path: '/device' }, key: { vary: ['X-Device'] } }] })
    serve('/device', FRESH, (req, n) => `#${n} for ${req.headers['x-device'] ?? 'none'}`)
    assert.equal((await get(proxy, '/device', { 'x-device': 'mobile' })).body, '#1 for mobile')
    assert.equal((await get(proxy, '/device', { 'x-device': 'desktop' })).body, '#2 for desktop')
    assert.equal((await get(proxy, '/device')).body, '#3 for none')
    const mobile = await get(proxy, '/device', { 'x-device': 'mobile' })
    assert.ok(isHit(mobile))
    assert.equal(mobile.body, '#1 for mobile')
    assert.equal((await get(proxy, '/device', { 'x-device': 'desktop' })).body, '#2 for desktop')
    assert.equal((await get(proxy, '/device')).body, '#3 for none')
    assert.equal(origin.count('/device'), 3)
    assert.equal(mobile.headers.vary, undefined, 'the key, not the response, varies')
  })
})

describe('cookies', () => {
  test('cookies.ignore: an ignored cookie does not pass the request and is not forwarded', async (t) => {
    const plain = await lacquer(t, {})
    const ignoring = await lacquer(t, { cookies: { ignore: ['consent', 'pref_*'] } })
    serve('/consent', FRESH, (req, n) => `#${n} cookie=${req.headers.cookie ?? 'none'}`)
    const passed = await get(plain, '/consent', { cookie: 'consent=yes' })
    assert.match(cacheStatus(passed), /detail=REQUEST-COOKIE/, 'without the setting the cookie passes the request')
    assert.equal(passed.body, '#1 cookie=consent=yes')

    const first = await get(ignoring, '/consent', { cookie: 'consent=yes; pref_lang=en; _ga=1' })
    assert.equal(first.body, '#2 cookie=none')
    const second = await get(ignoring, '/consent', { cookie: 'pref_theme=dark' })
    assert.ok(isHit(second), cacheStatus(second))
    const session = await get(ignoring, '/consent', { cookie: 'consent=yes; session=abc' })
    assert.match(cacheStatus(session), /detail=REQUEST-COOKIE/, 'a session cookie still passes')
    assert.equal(session.body, '#3 cookie=consent=yes; session=abc')
  })

  test('cookies.unknown: ignore looks up a request with an unknown cookie; a session cookie still passes', async (t) => {
    const proxy = await lacquer(t, { cookies: { unknown: 'ignore' } })
    serve('/unknown', FRESH, (req, n) => `#${n} cookie=${req.headers.cookie ?? 'none'}`)
    const first = await get(proxy, '/unknown', { cookie: 'theme=dark' })
    assert.equal(first.body, '#1 cookie=none')
    assert.ok(isHit(await get(proxy, '/unknown', { cookie: 'lang=fr; theme=light' })))
    for (const cookie of ['session=abc', 'PHPSESSID=1', 'wordpress_logged_in_abc=1', 'theme=dark; laravel_session=x']) {
      const res = await get(proxy, '/unknown', { cookie })
      assert.match(cacheStatus(res), /detail=REQUEST-COOKIE/, cookie)
      assert.equal(lastReceived('/unknown').headers.cookie, cookie)
    }
  })

  test('a custom cookies.session list decides which cookies make a request a user\'s', async (t) => {
    const proxy = await lacquer(t, { cookies: { session: ['auth_token', 'acct_*'], unknown: 'ignore' } })
    serve('/custom', FRESH, (req, n) => `#${n} cookie=${req.headers.cookie ?? 'none'}`)
    const user = await get(proxy, '/custom', { cookie: 'auth_token=t1' })
    assert.match(cacheStatus(user), /detail=REQUEST-COOKIE/)
    assert.equal(user.body, '#1 cookie=auth_token=t1')
    const wildcard = await get(proxy, '/custom', { cookie: 'acct_id=5' })
    assert.match(cacheStatus(wildcard), /detail=REQUEST-COOKIE/)
    assert.equal(lastReceived('/custom').headers.cookie, 'acct_id=5')
    const anonymous = await get(proxy, '/custom', { cookie: 'theme=dark' })
    assert.doesNotMatch(cacheStatus(anonymous), /REQUEST-COOKIE/, 'a cookie on no list is ignored (unknown: ignore)')
    assert.equal(anonymous.body, '#3 cookie=none')
    assert.ok(isHit(await get(proxy, '/custom')))
    const again = await get(proxy, '/custom', { cookie: 'theme=dark; auth_token=t2' })
    assert.ok(!isHit(again), 'a listed cookie passes the request even when the page is stored')
    assert.equal(again.body, '#4 cookie=theme=dark; auth_token=t2')
  })
})

describe('reload', () => {
  test('reload swaps the rules and keeps stored objects: a hit before stays a hit after', async (t) => {
    const config = (rules: Config['rules']): ProxyOptions => ({ origin: origin.url, listen: '127.0.0.1:0', admin: '127.0.0.1:0', rules })
    const proxy = await lacquer(t, { rules: [{ match: { path: '/r/**' }, ttl: '60s' }] })
    serve('/r/kept', {})
    serve('/r/later', {})
    serve('/r/user', { 'cache-control': 'private, max-age=60' }, (req) => `for ${req.headers.cookie}`)
    await get(proxy, '/r/kept')
    assert.ok(isHit(await get(proxy, '/r/kept')))
    // without a ttl rule /r/later is not stored
    const unruled = await get(proxy, '/r/later')
    assert.equal(unruled.headers['x-rule'], undefined)

    const warnings = proxy.proxy.reload(config([
      { match: { path: '/r/user' }, perUser: { cookie: 'session' } },
      { match: { path: '/r/later' }, pass: true, responseHeaders: { set: { 'x-rule': 'new' } } },
      { match: { path: '/r/**' }, ttl: '60s', responseHeaders: { set: { 'x-rule': 'reloaded' } } },
    ]))
    assert.deepEqual(warnings, [])
    const kept = await get(proxy, '/r/kept')
    assert.ok(isHit(kept), `a stored object survives the reload: ${cacheStatus(kept)}`)
    assert.equal(kept.body, '/r/kept #1')
    assert.equal(kept.headers['x-rule'], 'reloaded', 'the new rules apply')
    const later = await get(proxy, '/r/later')
    assert.match(cacheStatus(later), /detail=RULE-PASS/)
    assert.equal(later.headers['x-rule'], 'new')

    // a perUser entry stored under the new rules survives a second reload (the generated secret is kept)
    await get(proxy, '/r/user', { cookie: 'session=alice' })
    assert.ok(isHit(await get(proxy, '/r/user', { cookie: 'session=alice' })))
    proxy.proxy.reload(config([{ match: { path: '/r/user' }, perUser: { cookie: 'session' } }]))
    const alice = await get(proxy, '/r/user', { cookie: 'session=alice' })
    assert.ok(isHit(alice), cacheStatus(alice))
    assert.equal(alice.body, 'for session=alice')
    assert.equal(origin.count('/r/user'), 1)
    assert.ok(isHit(await get(proxy, '/r/kept')))
    assert.equal(origin.count('/r/kept'), 1)
  })
})
