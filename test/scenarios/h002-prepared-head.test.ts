/**
 * h002: hits sent from a head prepared once per stored object (fsm/deliver.ts sendPrepared,
 * http/h1-head.ts prepareHead), read as raw bytes: one each of Content-Length, Age, Date, Via
 * and Cache-Status, bodies whole across keep-alive and pipelining; the same fields as the
 * per-response path; upstream Cache-Status and Via kept before ours; tags hidden; the head
 * remade after a 304 merge and after a reload; HEAD, HTTP/1.0 persistence, one Date when the
 * origin sent none, and a rule's response edits still applied.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { sleep, startOrigin, type OriginHandler, type TestOrigin } from '../helpers/origin.js'
import { startProxy, type TestProxy } from '../helpers/proxy.js'
import { PAST_ONE_SECOND_MS } from '../helpers/rfc-scenario.js'
import { RawConnection, rawExchange } from '../helpers/raw-socket.js'

const PAGE = 'the cached page\n'
const BIG = Array.from({ length: 1000 }, (_, i) => `line ${String(i).padStart(4, '0')}\n`).join('') // 10 KB: two writes, not one copy

const served = (fields: Record<string, string | string[]>, body = PAGE): OriginHandler => (_req, res) => {
  res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain', 'content-length': String(body.length), ...fields })
  res.end(body)
}

let origin: TestOrigin
let proxy: TestProxy
let slow: TestProxy
let port: number

before(async () => {
  origin = await startOrigin({
    '/page': served({ etag: '"p1"' }),
    '/big': served({}, BIG),
    '/same': served({ etag: '"s1"', 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT', 'x-multi': ['a', 'b'], 'x-custom': 'one' }),
    '/upstream': served({ age: '5', via: '1.1 upstream-cdn', 'cache-status': ['a-cdn; fwd=uri-miss; stored', 'b-cdn; hit'] }),
    '/tagged': served({ 'surrogate-key': 'product-1 catalog', xkey: 'x1', 'cache-tag': 'c1', 'surrogate-control': 'max-age=60', 'x-kept': 'yes' }),
    '/reload': served({ 'surrogate-key': 'sk-tag', 'x-tags': 'xt-tag' }),
    '/edited': served({ 'x-secret': 'hidden', 'x-replaced': 'origin', 'x-kept': 'yes' }),
    '/nodate': (_req, res) => { res.sendDate = false; served({})(_req, res, '') },
    '/revalidate': (req, res) => {
      if (req.headers['if-none-match'] === '"r1"') {
        res.writeHead(304, { 'cache-control': 'max-age=60', etag: '"r1"', 'x-version': '2', 'x-added': 'yes' })
        res.end()
        return
      }
      served({ 'cache-control': 'max-age=1', etag: '"r1"', 'x-version': '1' })(req, res, '')
    },
  })
  const rules = [{ match: { path: '/edited' }, responseHeaders: { set: { 'x-edit': 'yes', 'x-replaced': 'rule' }, unset: ['x-secret'] } }]
  proxy = await startProxy({ origin: origin.url, rules })
  // a user deliver hook (answering nothing) sends every hit down the per-response path
  slow = await startProxy({ origin: origin.url }, { deliver: () => undefined })
  port = Number(new URL(proxy.url).port)
})
after(async () => { await proxy.close(); await slow.close(); await origin.close() })

type Field = [name: string, value: string]
interface Raw { statusLine: string; fields: Field[]; body: string }

const get = (path: string, ...fields: string[]) => `GET ${path} HTTP/1.1\r\nHost: h002\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`
const values = (res: Raw, name: string) => res.fields.filter(([n]) => n === name).map(([, v]) => v)
function one(res: Raw, name: string): string {
  const found = values(res, name)
  assert.equal(found.length, 1, `exactly one ${name}: ${JSON.stringify(res.fields)}`)
  return found[0]!
}

/** Every response in `raw`, each framed by its one Content-Length (none here is chunked); `heads`: which answer a HEAD. */
function responses(raw: string, heads: ReadonlySet<number> = new Set()): Raw[] {
  const out: Raw[] = []
  for (let at = 0; at < raw.length;) {
    const end = raw.indexOf('\r\n\r\n', at)
    assert.ok(end >= 0, `an unfinished head: ${JSON.stringify(raw.slice(at, at + 200))}`)
    const [statusLine = '', ...lines] = raw.slice(at, end).split('\r\n')
    const fields = lines.map((line): Field => {
      assert.match(line, /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+: \S/, `a well-formed field line in ${JSON.stringify(raw.slice(at, end))}`)
      const colon = line.indexOf(':')
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]
    })
    const res: Raw = { statusLine, fields, body: '' }
    const length = heads.has(out.length) ? 0 : Number(one(res, 'content-length'))
    res.body = raw.slice(end + 4, end + 4 + length)
    assert.equal(res.body.length, length, `the whole body of response ${out.length}`)
    out.push(res)
    at = end + 4 + length
  }
  return out
}

/** Writes all requests at once (the last asks to close) and reads every response. */
async function exchange(target: number, requests: string[], heads?: ReadonlySet<number>): Promise<Raw[]> {
  const result = await rawExchange(target, requests.join(''))
  assert.equal(result.timedOut, false, 'the connection closes after the last response')
  return responses(result.raw, heads)
}
const fetchOnce = async (path: string, target = port) => (await exchange(target, [get(path, 'Connection: close')]))[0]!

function assertPlainHit(res: Raw, body: string): void {
  assert.equal(res.statusLine, 'HTTP/1.1 200 OK')
  assert.equal(one(res, 'content-length'), String(body.length))
  assert.match(one(res, 'age'), /^\d+$/)
  assert.ok(Number.isFinite(Date.parse(one(res, 'date'))), 'a valid Date')
  assert.equal(one(res, 'via'), '1.1 lacquer')
  assert.match(one(res, 'cache-status'), /^lacquer; hit; ttl=\d+$/)
  assert.equal(res.body, body)
}

/** The fields as a sorted list, Age and Date left out and the remaining ttl blurred (the two copies were fetched a moment apart). */
const comparable = (res: Raw) => res.fields.filter(([name]) => name !== 'age' && name !== 'date')
  .map(([name, value]) => `${name}: ${name === 'cache-status' ? value.replace(/ttl=\d+/, 'ttl=N') : value}`).sort()

test('pipelined hits, small and large, each have one Content-Length, Age, Date, Via and Cache-Status and a whole body', async () => {
  const miss = await fetchOnce('/page')
  await fetchOnce('/big')
  const hits = await exchange(port, [get('/page'), get('/big'), get('/page'), get('/big', 'Connection: close')])
  assert.equal(hits.length, 4)
  hits.forEach((hit, i) => assertPlainHit(hit, i % 2 ? BIG : PAGE))
  assert.equal(one(hits[0]!, 'date'), one(miss, 'date'), "the origin's Date is kept")
  assert.equal(one(hits[0]!, 'etag'), '"p1"')
  assert.deepEqual(values(hits[0]!, 'connection'), [])
  assert.equal(one(hits[3]!, 'connection'), 'close')
  assert.equal(origin.count('/page') + origin.count('/big'), 2)
})

test('three hits one after another on one keep-alive connection each parse whole', async () => {
  await fetchOnce('/page')
  const conn = await RawConnection.open(port)
  for (const path of ['/page', '/big', '/page']) {
    conn.write(get(path))
    const res = await conn.read()
    assert.equal(res.status, 200)
    assert.equal(res.headers['content-length'], String((path === '/big' ? BIG : PAGE).length))
    assert.match(res.headers['cache-status'] ?? '', /^lacquer; hit; ttl=\d+$/)
    assert.match(res.headers.age ?? '', /^\d+$/)
    assert.equal(res.body.toString(), path === '/big' ? BIG : PAGE)
  }
  assert.equal(conn.isClosed, false)
  conn.destroy()
})

test('a hit has the same fields as the per-response path (a deliver hook), and a non-matching If-None-Match keeps them', async () => {
  const slowPort = Number(new URL(slow.url).port)
  await fetchOnce('/same')
  await fetchOnce('/same', slowPort)
  const fast = await fetchOnce('/same')
  const perResponse = await fetchOnce('/same', slowPort)
  assertPlainHit(fast, PAGE)
  assertPlainHit(perResponse, PAGE)
  assert.deepEqual(values(fast, 'x-multi'), ['a', 'b'], 'repeated fields stay separate lines, in order')
  assert.deepEqual(comparable(fast), comparable(perResponse))
  const [notMatching] = await exchange(port, [get('/same', 'If-None-Match: "nope"', 'Connection: close')])
  assertPlainHit(notMatching!, PAGE)
  assert.deepEqual(comparable(notMatching!), comparable(fast))
})

test("upstream Cache-Status members come before Lacquer's, upstream Via is kept with 1.1 lacquer appended, upstream Age counted once", async () => {
  await fetchOnce('/upstream')
  for (const hit of await exchange(port, [get('/upstream'), get('/upstream', 'Connection: close')])) {
    assert.match(one(hit, 'cache-status'), /^a-cdn; fwd=uri-miss; stored, b-cdn; hit, lacquer; hit; ttl=\d+$/)
    assert.equal(one(hit, 'via'), '1.1 upstream-cdn, 1.1 lacquer')
    assert.ok(Number(one(hit, 'age')) >= 5, 'the Age of caches before us is in the one Age (RFC 9111 §4.2.3)')
    assert.equal(hit.body, PAGE)
  }
})

test('Surrogate-Key, xkey, Cache-Tag and our Surrogate-Control never reach the client on a hit', async () => {
  await fetchOnce('/tagged')
  const hit = await fetchOnce('/tagged')
  assertPlainHit(hit, PAGE)
  for (const name of ['surrogate-key', 'xkey', 'cache-tag', 'surrogate-control']) assert.deepEqual(values(hit, name), [], name)
  assert.equal(one(hit, 'x-kept'), 'yes')
})

test('after a 304 revalidation merges new fields, hits show them and no longer the old values', async () => {
  await fetchOnce('/revalidate')
  const before = await fetchOnce('/revalidate')
  assert.match(one(before, 'cache-status'), /; hit/)
  assert.equal(one(before, 'x-version'), '1')
  await sleep(PAST_ONE_SECOND_MS)
  const revalidated = await fetchOnce('/revalidate')
  assert.match(one(revalidated, 'cache-status'), /fwd=stale/)
  assert.equal(origin.received.at(-1)!.headers['if-none-match'], '"r1"')
  for (const hit of await exchange(port, [get('/revalidate'), get('/revalidate', 'Connection: close')])) {
    assertPlainHit(hit, PAGE)
    assert.equal(one(hit, 'x-version'), '2', 'the 304 value, the stored 1 gone')
    assert.equal(one(hit, 'x-added'), 'yes')
    assert.equal(one(hit, 'cache-control'), 'max-age=60')
  }
  assert.equal(origin.count('/revalidate'), 2)
})

test('a reload that changes invalidation.tagHeaders changes which fields a hit of an object stored before hides', async () => {
  const reloaded = await startProxy({ origin: origin.url })
  try {
    const target = Number(new URL(reloaded.url).port)
    await fetchOnce('/reload', target)
    const before = await fetchOnce('/reload', target)
    assert.deepEqual([values(before, 'surrogate-key'), values(before, 'x-tags')], [[], ['xt-tag']])
    reloaded.proxy.reload({ origin: origin.url, invalidation: { tagHeaders: ['X-Tags'] } })
    const renamed = await fetchOnce('/reload', target)
    assertPlainHit(renamed, PAGE)
    assert.deepEqual([values(renamed, 'surrogate-key'), values(renamed, 'x-tags')], [['sk-tag'], []])
    reloaded.proxy.reload({ origin: origin.url })
    const back = await fetchOnce('/reload', target)
    assertPlainHit(back, PAGE)
    assert.deepEqual([values(back, 'surrogate-key'), values(back, 'x-tags')], [[], ['xt-tag']])
    assert.equal(origin.count('/reload'), 1, 'every answer after the first came from the store')
  } finally {
    await reloaded.close()
  }
})

test('HEAD of a stored object has the GET body length, no body bytes, and the connection answers the next request', async () => {
  await fetchOnce('/big')
  const [head, next, bigHead] = await exchange(port, ['HEAD /big HTTP/1.1\r\nHost: h002\r\n\r\n', get('/page'), 'HEAD /big HTTP/1.1\r\nHost: h002\r\nConnection: close\r\n\r\n'], new Set([0, 2]))
  assert.equal(head!.statusLine, 'HTTP/1.1 200 OK')
  assert.equal(one(head!, 'content-length'), String(BIG.length))
  assert.match(one(head!, 'cache-status'), /^lacquer; hit; ttl=\d+$/)
  assertPlainHit(next!, PAGE)
  assert.equal(one(bigHead!, 'content-length'), String(BIG.length))
  const get1 = await fetchOnce('/big')
  assert.deepEqual(comparable(head!).filter((f) => !f.startsWith('connection')), comparable(get1).filter((f) => !f.startsWith('connection')))
})

test('HTTP/1.0 hits: with Connection: keep-alive the connection persists, without it it closes', async () => {
  await fetchOnce('/page')
  const kept = await RawConnection.open(port)
  for (let i = 0; i < 2; i++) {
    kept.write('GET /page HTTP/1.0\r\nHost: h002\r\nConnection: keep-alive\r\n\r\n')
    const res = await kept.read()
    assert.equal(res.headers.connection, 'keep-alive')
    assert.match(res.headers['cache-status'] ?? '', /; hit/)
    assert.equal(res.body.toString(), PAGE)
  }
  assert.equal(kept.isClosed, false)
  kept.destroy()
  const plain = await rawExchange(port, 'GET /page HTTP/1.0\r\nHost: h002\r\n\r\n')
  assert.equal(plain.timedOut, false, 'closed after the response')
  const [res, ...rest] = responses(plain.raw)
  assert.equal(rest.length, 0)
  assertPlainHit(res!, PAGE)
  assert.equal(one(res!, 'connection'), 'close')
})

test('a response the origin sent without Date gets the Date it was received at, and every hit sends that one Date', async () => {
  // RFC 9110 §6.6.1: the fetch adds the Date of receipt when the origin sent none, and stores it
  const miss = await fetchOnce('/nodate')
  assert.equal(origin.received.at(-1)!.url, '/nodate')
  const received = one(miss, 'date')
  assert.ok(Math.abs(Date.parse(received) - Date.now()) < 5000, received)
  const first = await fetchOnce('/nodate')
  assertPlainHit(first, PAGE)
  assert.equal(one(first, 'date'), received)
  await sleep(PAST_ONE_SECOND_MS)
  const later = await fetchOnce('/nodate')
  assertPlainHit(later, PAGE)
  assert.equal(one(later, 'date'), received, 'one Date, the stored one, not a second one of this second')
})

test("a rule's response header edits are applied on hits", async () => {
  await fetchOnce('/edited')
  for (const hit of await exchange(port, [get('/edited'), get('/edited', 'Connection: close')])) {
    assertPlainHit(hit, PAGE)
    assert.equal(one(hit, 'x-edit'), 'yes')
    assert.equal(one(hit, 'x-replaced'), 'rule')
    assert.deepEqual(values(hit, 'x-secret'), [])
    assert.equal(one(hit, 'x-kept'), 'yes')
  }
  assert.equal(origin.count('/edited'), 1)
})

test("the store counts a prepared head once, at the first hit: it is part of what the object holds", async () => {
  const storeBytes = async () => ((await (await fetch(`${proxy.adminUrl}/stats`)).json()) as { store: { bytes: number } }).store.bytes
  origin.on('/counted', served({ 'x-field': 'v'.repeat(40) }))
  await fetchOnce('/counted')
  const stored = await storeBytes()
  const hit = await fetchOnce('/counted')
  const prepared = await storeBytes()
  // the head's text (status line and fields as sent, less Age and Cache-Status) and a fixed overhead
  const headText = hit.statusLine.length + 2 + hit.fields.filter(([n]) => n !== 'age' && n !== 'cache-status').reduce((n, [k, v]) => n + k.length + v.length + 4, 0)
  assert.ok(prepared - stored >= headText && prepared - stored <= headText + 200, `${prepared - stored} bytes counted for a head of ${headText}`)
  await fetchOnce('/counted')
  assert.equal(await storeBytes(), prepared, 'later hits add nothing')
})
