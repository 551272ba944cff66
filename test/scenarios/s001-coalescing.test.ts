/**
 * s001: request coalescing is efficient and never leaks. Concurrent misses for one cold URL
 * with a shareable response make exactly one origin request and every client (including those
 * that join while the body is streaming) gets the whole, identical body. Responses that belong
 * to one client (Set-Cookie, Cache-Control: private) are never handed to a waiter: each client
 * gets its own origin response. A waiter whose Vary-selecting field differs from the leader's
 * gets the variant for its own request.
 */
import assert from 'node:assert/strict'
import type http from 'node:http'
import { after, before, test } from 'node:test'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy, type TestResponse } from '../helpers/proxy.js'

const CLIENTS = 200
const ORIGIN_DELAY_MS = 200
const CHUNKS = 10
const CHUNK_DELAY_MS = 50

/** ~50 KB, distinct per chunk so a reordered, duplicated or missing chunk is detected. */
const CHUNK_BODIES = Array.from({ length: CHUNKS }, (_, i) => `${String(i).padStart(4, '0')}:`.padEnd(5000, String.fromCharCode(97 + i)))
const BIG_BODY = CHUNK_BODIES.join('')

let origin: TestOrigin
let proxy: TestProxy
/** resolves when the origin has sent the head (and first chunk) of /streamed */
let streamHeadSent: () => void
const streamHead = new Promise<void>((resolve) => { streamHeadSent = resolve })

let cookieSerial = 0
let privateSerial = 0

async function streamBody(res: http.ServerResponse): Promise<void> {
  for (let i = 0; i < CHUNKS; i++) {
    res.write(CHUNK_BODIES[i])
    if (i === 0) streamHeadSent()
    await sleep(CHUNK_DELAY_MS)
  }
  // on a loaded machine the 200 clients may take longer to arrive than the body to stream:
  // the last chunk waits (at most 5 s) until every one of them has joined, so each is a waiter
  for (const deadline = Date.now() + 5000; proxy.proxy.counters.coalesced < CLIENTS - 1 && Date.now() < deadline;) await sleep(10)
  res.end()
}

const BODIES: Record<string, string> = { en: 'Hello, world', fr: 'Bonjour, le monde', de: 'Hallo, Welt' }

before(async () => {
  origin = await startOrigin({
    '/streamed': async (_req, res) => {
      await sleep(ORIGIN_DELAY_MS)
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
      await streamBody(res)
    },
    '/set-cookie': async (_req, res) => {
      const n = ++cookieSerial
      await sleep(ORIGIN_DELAY_MS)
      res.writeHead(200, { 'cache-control': 'max-age=60', 'set-cookie': `session=user${n}; Path=/; HttpOnly`, 'content-type': 'text/plain' })
      res.end(`private page of user${n}`)
    },
    '/private': async (_req, res) => {
      const n = ++privateSerial
      await sleep(ORIGIN_DELAY_MS)
      res.writeHead(200, { 'cache-control': 'private, max-age=60', 'content-type': 'text/plain' })
      res.end(`account page #${n}`)
    },
    '/vary': async (req, res) => {
      const lang = String(req.headers['accept-language'] ?? 'en')
      await sleep(ORIGIN_DELAY_MS)
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language', 'content-language': lang, 'content-type': 'text/plain' })
      res.write(`${BODIES[lang] ?? 'unknown'} `)
      await sleep(20)
      res.end(`[${lang}]`)
    },
  })
  proxy = await startProxy({ origin: origin.url })
})
after(async () => { await proxy.close(); await origin.close() })

function many(count: number, path: string, headers: (i: number) => Record<string, string> = () => ({})): Promise<TestResponse[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => request(`${proxy.url}${path}`, { headers: headers(i) })))
}

test('200 concurrent misses for one cold URL make exactly one origin request; all get the whole body, also those joining mid-stream', async () => {
  const startedAt = Date.now()
  const firstWave = many(CLIENTS / 2, '/streamed')
  // the second wave arrives after the head was sent, while the body is still streaming
  await streamHead
  await sleep(30)
  const secondWave = many(CLIENTS / 2, '/streamed')
  const [first, second] = await Promise.all([firstWave, secondWave])
  const all = [...first, ...second]
  assert.equal(origin.count('/streamed'), 1, 'one origin request for all concurrent clients')
  assert.equal(all.length, CLIENTS)
  for (const res of all) {
    assert.equal(res.status, 200)
    assert.equal(res.isAborted, false)
    assert.equal(res.body.length, BIG_BODY.length)
    assert.ok(res.body === BIG_BODY, 'body identical to the origin body')
  }
  // the joiners were coalesced onto the one fetch (not served later from the store)
  const collapsed = all.filter((res) => /; collapsed/.test(cacheStatus(res)))
  assert.equal(collapsed.length, CLIENTS - 1, `collapsed: ${collapsed.length}`)
  for (const res of second) assert.match(cacheStatus(res), /; collapsed/, 'second wave joined the streaming fetch')
  assert.ok(Date.now() - startedAt < 5000, 'finished quickly')
  // and the response was stored whole
  const later = await request(`${proxy.url}/streamed`)
  assert.ok(isHit(later), cacheStatus(later))
  assert.ok(later.body === BIG_BODY)
  assert.equal(origin.count('/streamed'), 1)
})

test('200 concurrent misses answered with Set-Cookie: every client gets its own origin response and cookie', async () => {
  const all = await many(CLIENTS, '/set-cookie')
  assert.equal(origin.count('/set-cookie'), CLIENTS, 'one origin request per client')
  const cookies = new Set<string>()
  for (const res of all) {
    assert.equal(res.status, 200)
    assert.equal(res.isAborted, false)
    const setCookie = res.headers['set-cookie']
    assert.ok(setCookie && setCookie.length === 1, `exactly one Set-Cookie: ${JSON.stringify(setCookie)}`)
    const user = /^session=(user\d+);/.exec(setCookie[0]!)?.[1]
    assert.ok(user, setCookie[0])
    // the body and the cookie come from the same origin response
    assert.equal(res.body, `private page of ${user}`)
    cookies.add(user)
    assert.ok(!isHit(res))
  }
  assert.equal(cookies.size, CLIENTS, 'no client saw another client\'s cookie')
  const again = await request(`${proxy.url}/set-cookie`)
  assert.ok(!isHit(again), cacheStatus(again))
  assert.equal(origin.count('/set-cookie'), CLIENTS + 1)
})

test('200 concurrent misses answered with Cache-Control: private: every client gets its own origin response', async () => {
  const all = await many(CLIENTS, '/private')
  assert.equal(origin.count('/private'), CLIENTS, 'one origin request per client')
  const pages = new Set<string>()
  for (const res of all) {
    assert.equal(res.status, 200)
    assert.equal(res.isAborted, false)
    assert.match(res.body, /^account page #\d+$/)
    pages.add(res.body)
  }
  assert.equal(pages.size, CLIENTS, 'no two clients were handed the same private response')
})

test('concurrent waiters with different Accept-Language each get the variant for their own language', async () => {
  const langs = Object.keys(BODIES)
  const langOf = (i: number) => langs[i % langs.length]!
  const all = await many(CLIENTS, '/vary', (i) => ({ 'accept-language': langOf(i) }))
  const received = origin.count('/vary')
  assert.ok(received >= langs.length && received <= CLIENTS, `origin requests: ${received}`)
  all.forEach((res, i) => {
    const lang = langOf(i)
    assert.equal(res.status, 200)
    assert.equal(res.isAborted, false)
    assert.equal(res.body, `${BODIES[lang]} [${lang}]`, `client ${i} asked for ${lang}`)
    assert.equal(res.headers['content-language'], lang)
  })
  // every language's variant is now stored and selected correctly
  for (const lang of langs) {
    const res = await request(`${proxy.url}/vary`, { headers: { 'accept-language': lang } })
    assert.ok(isHit(res), `${lang}: ${cacheStatus(res)}`)
    assert.equal(res.body, `${BODIES[lang]} [${lang}]`)
  }
  assert.equal(origin.count('/vary'), received)
})
