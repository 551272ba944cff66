/**
 * r005: what the new-user trial of ESI and spike handling found (session 2), each with the
 * behaviour that answers it.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { resolveConfig } from '../../src/config/resolve.js'
import { LacquerError } from '../../src/errors.js'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy, type TestResponse } from '../helpers/proxy.js'

let origin: TestOrigin
let proxy: TestProxy

before(async () => {
  origin = await startOrigin({
    '/frag/hdr': (req, res) => {
      res.writeHead(200, { 'cache-control': 'private, max-age=300', 'content-type': 'text/html' })
      res.end(`HDRUSER[${req.headers['x-user'] ?? '-'}]`)
    },
    '/page/hdr': (_req, res) => {
      res.writeHead(200, { 'surrogate-control': 'content="ESI/1.0"', 'cache-control': 'public, max-age=60', 'content-type': 'text/html' })
      res.end('<p>Hello <esi:include src="/frag/hdr"/></p>')
    },
    '/slowcold': async (_req, res) => {
      await sleep(300)
      res.writeHead(200, { 'cache-control': 'public, max-age=60', 'content-type': 'text/plain' })
      res.end('popular')
    },
    '/who': (req, res) => {
      res.writeHead(200, { 'cache-control': 'private, max-age=60', 'content-type': 'text/plain' })
      res.end(`WHO[${req.headers.cookie ?? ''}]`)
    },
  })
  proxy = await startProxy({
    origin: origin.url,
    rules: [
      { match: { path: '/frag/hdr' }, perUser: { header: 'x-user' }, ttl: '1m' },
      { match: { path: '/page/**' }, cache: true },
      { match: { path: '/who' }, perUser: { cookie: 'session' } },
    ],
  })
})
after(async () => { await proxy.close(); await origin.close() })

test('an assembled ESI page is never public, even when its per-user fragment is keyed by a header', async () => {
  const alice = await request(`${proxy.url}/page/hdr`, { headers: { 'x-user': 'alice' } })
  assert.match(alice.body, /HDRUSER\[alice\]/)
  assert.equal(alice.headers['cache-control'], 'private, no-cache', 'a shared cache downstream must not store alice\'s page')
  const bob = await request(`${proxy.url}/page/hdr`, { headers: { 'x-user': 'bob' } })
  assert.match(bob.body, /HDRUSER\[bob\]/)
  assert.doesNotMatch(bob.body, /alice/)
})

test('a HEAD on an ESI page never shows Surrogate-Control', async () => {
  const res = await request(`${proxy.url}/page/hdr`, { method: 'HEAD' })
  assert.equal(res.headers['surrogate-control'], undefined, cacheStatus(res))
})

test('one request with Cache-Control: no-store does not switch coalescing off for everyone (no hit-for-miss)', async () => {
  const first = await request(`${proxy.url}/slowcold`, { headers: { 'cache-control': 'no-store' } })
  assert.match(cacheStatus(first), /REQUEST-NO-STORE/)
  const before = origin.count('/slowcold')
  const burst: TestResponse[] = await Promise.all(Array.from({ length: 30 }, () => request(`${proxy.url}/slowcold`)))
  assert.equal(origin.count('/slowcold') - before, 1, 'one origin request for the burst')
  for (const res of burst) assert.doesNotMatch(cacheStatus(res), /HIT-FOR-MISS/)
})

test('a per-user cookie sent twice is passed, never stored under one of its values', async () => {
  const twice = await request(`${proxy.url}/who`, { headers: { cookie: 'session=a1; session=b1' } })
  assert.match(cacheStatus(twice), /REQUEST-COOKIE/)
  const a1 = await request(`${proxy.url}/who`, { headers: { cookie: 'session=a1' } })
  assert.ok(!isHit(a1), cacheStatus(a1))
  assert.equal(a1.body, 'WHO[session=a1]')
})

test('a probe interval under 50 ms is a config error naming the key', () => {
  const problem = (probe: Record<string, unknown>) => {
    try {
      resolveConfig({ origins: [{ url: 'http://127.0.0.1:1', probe }] })
    } catch (err) {
      assert.ok(err instanceof LacquerError)
      return err.message
    }
    return 'accepted'
  }
  assert.match(problem({ url: '/h', interval: '1ms' }), /origins\[0\]\.probe\.interval: "1ms" — at least 50ms/)
  assert.equal(problem({ url: '/h', interval: '50ms', timeout: '500ms' }), 'accepted')
})

test('director may be given as the type alone, as --director takes it', () => {
  const config = resolveConfig({ origins: ['http://127.0.0.1:1', 'http://127.0.0.1:2'], director: 'hash' })
  assert.equal(config.director.type, 'hash')
})
