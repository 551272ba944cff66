/**
 * s005: the built-in safety policy never lets one user's data reach another, and the proxy
 * forwards like a proxy must. A response to a request with Authorization (without
 * public/s-maxage/must-revalidate) is not stored nor shared; a request with a session cookie is
 * passed and its response never stored; tracking-only cookies are stripped and the request is
 * looked up as a cookie-less one; responses with Set-Cookie are never stored (also when the
 * cookie comes on a 304 revalidation); hop-by-hop fields are neither forwarded nor returned
 * nor stored; the origin gets Via, X-Forwarded-For/-Proto/-Host and the client's own Host, and
 * a response is never stored under a host other than the one the origin was asked for.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy, type TestResponse } from '../helpers/proxy.js'
import { rawExchange } from '../helpers/raw-socket.js'

let origin: TestOrigin
let proxy: TestProxy
let serial = 0
let revalidations = 0

before(async () => {
  origin = await startOrigin({
    '/auth': (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
      res.end(req.headers.authorization ? `account of ${req.headers.authorization}` : 'anonymous page')
    },
    '/auth-slow': async (req, res) => {
      await sleep(150)
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
      res.end(req.headers.authorization ? `account of ${req.headers.authorization}` : 'anonymous page')
    },
    '/cookie-page': (req, res) => {
      res.writeHead(200, { 'cache-control': 'public, max-age=60', 'content-type': 'text/plain' })
      res.end(req.headers.cookie ? `personal page for ${req.headers.cookie}` : 'public page')
    },
    '/set-cookie': (_req, res) => {
      const n = ++serial
      res.writeHead(200, { 'cache-control': 'public, max-age=60', 'set-cookie': `session=s${n}`, 'content-type': 'text/plain' })
      res.end(`welcome s${n}`)
    },
    '/revalidated': (req, res) => {
      if (req.headers['if-none-match'] === '"v1"') {
        revalidations++
        // the origin refreshes the object and, as a side effect, logs the client in
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60', 'set-cookie': `session=secret${revalidations}` })
        res.end()
        return
      }
      res.writeHead(200, { etag: '"v1"', 'cache-control': 'max-age=0', 'content-type': 'text/plain' })
      res.end('shared page')
    },
    '/hop': (_req, res) => {
      res.writeHead(200, [
        ['Cache-Control', 'max-age=60'], ['Content-Type', 'text/plain'],
        ['Connection', 'X-Bar, X-Baz'], ['X-Bar', 'connection-specific'], ['X-Baz', 'also'],
        ['Keep-Alive', 'timeout=99, max=7'], ['Proxy-Authenticate', 'Basic realm="origin"'],
        ['Proxy-Connection', 'keep-alive'], ['X-End-To-End', 'kept'],
      ].flat())
      res.end('hop page')
    },
    '*': (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
      res.end(`page ${req.url} for host ${req.headers.host}`)
    },
  })
  proxy = await startProxy({ origin: origin.url })
})
after(async () => { await proxy.close(); await origin.close() })

function lastReceived(path: string) {
  const all = origin.received.filter((r) => r.url === path)
  assert.ok(all.length > 0, `the origin received ${path}`)
  return all[all.length - 1]!
}

function headerNames(res: TestResponse): string[] {
  return res.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())
}

test('a response to a request with Authorization and only max-age is not stored: the next client gets a miss', async () => {
  const authed = await request(`${proxy.url}/auth`, { headers: { authorization: 'Bearer alice' } })
  assert.equal(authed.body, 'account of Bearer alice')
  assert.match(cacheStatus(authed), /detail=REQUEST-AUTHORIZATION/)
  assert.doesNotMatch(cacheStatus(authed), /; stored/)
  const anonymous = await request(`${proxy.url}/auth`)
  assert.ok(!isHit(anonymous), cacheStatus(anonymous))
  assert.equal(anonymous.body, 'anonymous page')
  assert.equal(origin.count('/auth'), 2)
})

test('concurrent clients without Authorization never get the response fetched for one with it', async () => {
  const authed = request(`${proxy.url}/auth-slow`, { headers: { authorization: 'Bearer bob' } })
  await sleep(20)
  const others = await Promise.all(Array.from({ length: 20 }, () => request(`${proxy.url}/auth-slow`)))
  assert.equal((await authed).body, 'account of Bearer bob')
  for (const res of others) assert.equal(res.body, 'anonymous page', cacheStatus(res))
})

test('a request with a session cookie is passed (fwd=bypass, REQUEST-COOKIE) and its response never stored', async () => {
  const personal = await request(`${proxy.url}/cookie-page`, { headers: { cookie: 'session=abc' } })
  assert.equal(personal.body, 'personal page for session=abc')
  assert.match(cacheStatus(personal), /fwd=bypass/)
  assert.match(cacheStatus(personal), /detail=REQUEST-COOKIE/)
  assert.doesNotMatch(cacheStatus(personal), /; stored/)
  assert.equal(lastReceived('/cookie-page').headers.cookie, 'session=abc', 'a passed request keeps its cookie')
  const anonymous = await request(`${proxy.url}/cookie-page`)
  assert.ok(!isHit(anonymous), cacheStatus(anonymous))
  assert.equal(anonymous.body, 'public page')
  // once the public page is stored, a session request still goes to the origin
  const again = await request(`${proxy.url}/cookie-page`, { headers: { cookie: 'theme=dark; session=abc' } })
  assert.ok(!isHit(again), cacheStatus(again))
  assert.equal(again.body, 'personal page for theme=dark; session=abc')
  assert.equal(origin.count('/cookie-page'), 3)
  assert.ok(isHit(await request(`${proxy.url}/cookie-page`)))
})

test('a request with only tracking cookies is looked up like a cookie-less one and the cookies are not forwarded', async () => {
  const tracked = await request(`${proxy.url}/tracked`, { headers: { cookie: '_ga=1; _gid=2' } })
  assert.equal(tracked.status, 200)
  assert.match(cacheStatus(tracked), /fwd=uri-miss/)
  assert.match(cacheStatus(tracked), /; stored/)
  assert.equal(lastReceived('/tracked').headers.cookie, undefined, 'tracking cookies are stripped')
  const plain = await request(`${proxy.url}/tracked`)
  assert.ok(isHit(plain), cacheStatus(plain))
  const trackedAgain = await request(`${proxy.url}/tracked`, { headers: { cookie: '_ga=GA1.2.3; _gid=9' } })
  assert.ok(isHit(trackedAgain), cacheStatus(trackedAgain))
  assert.equal(origin.count('/tracked'), 1)
})

test('responses with Set-Cookie are never stored; each client gets only its own cookie', async () => {
  const first = await request(`${proxy.url}/set-cookie`)
  const second = await request(`${proxy.url}/set-cookie`)
  assert.match(cacheStatus(first), /detail=RESPONSE-SET-COOKIE/)
  assert.ok(!isHit(second), cacheStatus(second))
  assert.deepEqual(first.headers['set-cookie'], ['session=s1'])
  assert.deepEqual(second.headers['set-cookie'], ['session=s2'])
  assert.equal(second.body, 'welcome s2')
  assert.equal(origin.count('/set-cookie'), 2)
})

test('a Set-Cookie on a 304 revalidation is not merged into the stored response', async () => {
  const first = await request(`${proxy.url}/revalidated`)
  assert.equal(first.body, 'shared page')
  assert.match(cacheStatus(first), /; stored/)
  // stale at once: this request revalidates, and the 304 sets this client's cookie
  const second = await request(`${proxy.url}/revalidated`)
  assert.equal(second.body, 'shared page')
  assert.equal(revalidations, 1)
  // a third client must never see the cookie the origin set for the second
  const third = await request(`${proxy.url}/revalidated`)
  assert.equal(third.body, 'shared page')
  const leaked = third.headers['set-cookie']
  assert.ok(leaked === undefined || !leaked.includes('session=secret1'), `another client's cookie was served: ${JSON.stringify(leaked)} (${cacheStatus(third)})`)
})

test('hop-by-hop request fields (and those named in Connection) are not forwarded to the origin', async () => {
  const res = await request(`${proxy.url}/hop-request`, {
    headers: {
      connection: 'X-Foo, keep-alive', 'x-foo': 'secret-to-this-hop', 'keep-alive': 'timeout=30', te: 'trailers',
      upgrade: 'websocket', 'proxy-authorization': 'Basic cHJveHk6c2VjcmV0', 'proxy-connection': 'keep-alive', 'x-end-to-end': 'kept',
    },
  })
  assert.equal(res.status, 200)
  const got = lastReceived('/hop-request')
  for (const name of ['x-foo', 'keep-alive', 'te', 'upgrade', 'proxy-authorization', 'proxy-connection']) {
    assert.equal(got.headers[name], undefined, `${name} was forwarded: ${JSON.stringify(got.headers[name])}`)
  }
  assert.doesNotMatch(String(got.headers.connection ?? ''), /x-foo/i)
  assert.equal(got.headers['x-end-to-end'], 'kept')
})

test('hop-by-hop response fields (and those named in Connection) are not returned to the client nor stored', async () => {
  const check = (res: TestResponse, label: string) => {
    assert.equal(res.status, 200)
    assert.equal(res.body, 'hop page')
    const names = headerNames(res)
    for (const name of ['x-bar', 'x-baz', 'proxy-authenticate', 'proxy-connection']) {
      assert.ok(!names.includes(name), `${label}: ${name} was returned`)
    }
    assert.notEqual(res.headers['keep-alive'], 'timeout=99, max=7', `${label}: the origin's Keep-Alive was returned`)
    assert.doesNotMatch(String(res.headers.connection ?? ''), /x-bar|x-baz/i, `${label}: the origin's Connection was returned`)
    assert.equal(res.headers['x-end-to-end'], 'kept')
  }
  check(await request(`${proxy.url}/hop`), 'miss')
  const hit = await request(`${proxy.url}/hop`)
  assert.ok(isHit(hit), cacheStatus(hit))
  check(hit, 'hit')
  const host = new URL(proxy.url).host
  const stored = await proxy.proxy.store.lookup(`http://${host}/hop`, [])
  assert.ok(stored, 'stored')
  const storedNames = stored.headers.map(([name]) => name)
  for (const name of ['connection', 'x-bar', 'x-baz', 'keep-alive', 'proxy-authenticate', 'proxy-connection']) {
    assert.ok(!storedNames.includes(name), `${name} was stored`)
  }
})

test('the origin receives Via, X-Forwarded-For/-Proto/-Host and the client\'s Host unchanged', async () => {
  const res = await request(`${proxy.url}/forwarded`, { headers: { host: 'www.shop.example:8443' } })
  assert.equal(res.body, 'page /forwarded for host www.shop.example:8443')
  assert.match(String(res.headers.via), /1\.1 lacquer/)
  const got = lastReceived('/forwarded')
  assert.equal(got.headers.host, 'www.shop.example:8443')
  assert.match(String(got.headers.via), /(^|,\s*)1\.1 lacquer$/)
  assert.match(String(got.headers['x-forwarded-for']), /(^|,\s*)127\.0\.0\.1$/)
  assert.equal(got.headers['x-forwarded-proto'], 'http')
  assert.equal(got.headers['x-forwarded-host'], 'www.shop.example:8443')
  // an existing chain is extended, not replaced
  await request(`${proxy.url}/forwarded-chain`, { headers: { via: '1.0 edge', 'x-forwarded-for': '203.0.113.7' } })
  const chained = lastReceived('/forwarded-chain')
  assert.equal(chained.headers.via, '1.0 edge, 1.1 lacquer')
  assert.equal(chained.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1')
})

test('an absolute-form request is never stored under a host other than the one the origin rendered for', async () => {
  const port = Number(new URL(proxy.url).port)
  // the target names victim.example, the Host field names attacker.example
  const res = await rawExchange(port, 'GET http://victim.example/abs HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n')
  if (res.status === 200) {
    // RFC 9112 §3.2.2: the target's authority replaces Host, also towards the origin
    assert.equal(lastReceived('/abs').headers.host, 'victim.example', 'the origin was asked with the Host the response is stored under')
  }
  // whatever is served for victim.example/abs was rendered by the origin for victim.example
  const victim = await request(`${proxy.url}/abs`, { headers: { host: 'victim.example' } })
  assert.equal(victim.body, 'page /abs for host victim.example', cacheStatus(victim))
})
