/**
 * r007: what the new-user trial after the prepared head and the one-process default found
 * (session 3), each with the behaviour that answers it.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy } from '../helpers/proxy.js'

let origin: TestOrigin
let proxy: TestProxy

before(async () => {
  origin = await startOrigin({
    // answers a revalidation with a 304 whose ETag is another one: it selects no stored response
    '/other-etag': (req, res) => {
      if (req.headers['if-none-match']) {
        res.writeHead(304, { etag: '"other"', 'cache-control': 'max-age=1' })
        res.end()
        return
      }
      res.writeHead(200, { etag: '"r1"', 'cache-control': 'max-age=1', 'content-type': 'text/plain' })
      res.end(`whole ${origin.count('/other-etag')}`)
    },
    '/slowshort': async (_req, res) => {
      await sleep(300)
      // max-age=2, not 1: Date has whole seconds, so with the 300 ms delay a fresh answer can already
      // be 1.3 s old when it arrives (RFC 9111 §4.2.3 apparent age)
      res.writeHead(200, { 'cache-control': 'max-age=2', 'content-type': 'text/plain' })
      res.end('slow page')
    },
    '/huge-head': (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'x-long': 'x'.repeat(17_000) })
      res.end('body')
    },
  })
  proxy = await startProxy({ origin: origin.url })
})
after(async () => { await proxy.close(); await origin.close() })

test('a 304 whose ETag selects no stored response is never handed to a client that asked nothing conditional: the page is fetched whole', async () => {
  const first = await request(`${proxy.url}/other-etag`)
  assert.equal(first.status, 200)
  await sleep(1100)
  for (let i = 0; i < 2; i++) {
    const res = await request(`${proxy.url}/other-etag`)
    assert.equal(res.status, 200, `request ${i}: ${res.status} ${cacheStatus(res)}`)
    assert.match(res.body, /^whole \d+$/)
    assert.ok(!/HIT-FOR-MISS/.test(cacheStatus(res)), cacheStatus(res))
    await sleep(1100)
  }
  // each stale revalidation: the conditional request, then the whole one without validators
  const sent = origin.received.filter((r) => r.url === '/other-etag')
  assert.equal(sent.length, 5)
  assert.deepEqual(sent.map((r) => r.headers['if-none-match'] ?? '-'), ['-', '"r1"', '-', '"r1"', '-'])
  assert.ok(proxy.logs.some((l) => l.level === 'warn' && /select no stored response/.test(l.msg)))
})

test('a HEAD on a stale object does not switch coalescing off for the URL (hit-for-miss is for GET answers)', async () => {
  await request(`${proxy.url}/slowshort`)
  await sleep(2100)
  const head = await request(`${proxy.url}/slowshort`, { method: 'HEAD' })
  assert.equal(head.status, 200)
  await sleep(2100)
  const before = origin.count('/slowshort')
  const answers = await Promise.all(Array.from({ length: 6 }, () => request(`${proxy.url}/slowshort`)))
  assert.ok(answers.every((r) => r.status === 200 && r.body === 'slow page'))
  assert.equal(origin.count('/slowshort') - before, 1, 'six concurrent GETs, one origin request')
  assert.ok(!answers.some((r) => /HIT-FOR-MISS/.test(cacheStatus(r))), answers.map(cacheStatus).join(' | '))
  assert.ok(answers.filter((r) => /collapsed/.test(cacheStatus(r))).length >= 4, answers.map(cacheStatus).join(' | '))
  assert.ok(isHit(await request(`${proxy.url}/slowshort`)))
})

test('an origin response head over the client limit (16 KiB) is a bad response (502 ERR_ORIGIN_BAD_RESPONSE), not an unreachable origin', async () => {
  const res = await request(`${proxy.url}/huge-head`)
  assert.equal(res.status, 502)
  assert.equal(res.headers['lacquer-error'], 'ERR_ORIGIN_BAD_RESPONSE')
  assert.match(cacheStatus(res), /detail=ORIGIN-BAD-RESPONSE/)
})
