/**
 * o005: request traces on demand. `Lacquer-Debug: trace` from a trusted caller (trust.allow or
 * the bearer token) makes Lacquer answer with `Lacquer-Trace` (the transaction id and the
 * states the request went through) and `Lacquer-Key` (the cache key; a per-user part as an
 * HMAC, never the cookie). From anyone else the header is ignored. It is never forwarded to
 * the origin, and a trace never sticks to a stored or shared response.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, request, startProxy, type TestProxy } from '../helpers/proxy.js'
import { useTempDirs } from '../helpers/temp-dirs.js'

const temp = useTempDirs('lacquer-trace-')
const TOKEN = 'trace-token-0123456789abcdef'
const TRACE = { 'lacquer-debug': 'trace' }
let origin: TestOrigin
let trusted: TestProxy
let untrusted: TestProxy
let logFile: string

before(async () => {
  origin = await startOrigin({
    '/dead': (req) => { req.socket.destroy() },
    '/slow': async (_req, res) => { await sleep(200); res.writeHead(200, { 'cache-control': 'max-age=300' }); res.end('slow') },
    '/slow-2': async (_req, res) => { await sleep(200); res.writeHead(200, { 'cache-control': 'max-age=300' }); res.end('slow') },
    '*': (req, res) => { res.writeHead(200, { 'cache-control': 'max-age=300' }); res.end(`page ${req.url}`) },
  })
  logFile = join(temp.dir(), 'access.jsonl')
  const rules = [{ match: { path: '/account/**' }, perUser: { cookie: 'session' }, ttl: '5m' }]
  trusted = await startProxy({ origin: origin.url, rules, accessLog: { format: 'json', output: logFile } })
  untrusted = await startProxy({ origin: origin.url, trust: { allow: ['10.0.0.0/8'], token: TOKEN } })
})
after(async () => { await trusted?.close(); await untrusted?.close(); await origin?.close() })

/** Lacquer-Trace split: the id and the states. */
function traceOf(res: { headers: Record<string, unknown> }): { id: number; states: string } {
  const value = res.headers['lacquer-trace']
  assert.equal(typeof value, 'string', 'a Lacquer-Trace field')
  const m = /^(\d+) (.+)$/.exec(value as string)
  assert.ok(m, `Lacquer-Trace: ${value}`)
  return { id: Number(m[1]), states: m[2]! }
}

test('a trusted caller gets the states and the key: miss, hit, pass, synth, purge', async () => {
  const host = new URL(trusted.url).host
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => request(`${trusted.url}${path}`, { method, headers: { ...TRACE, ...headers } })

  const miss = await get('/t/1')
  assert.equal(traceOf(miss).states, 'recv hash lookup miss deliver finish')
  assert.equal(miss.headers['lacquer-key'], `http://${host}/t/1`)

  const hit = await get('/t/1')
  assert.equal(traceOf(hit).states, 'recv hash lookup hit deliver finish')
  assert.equal(hit.headers['lacquer-key'], `http://${host}/t/1`)
  assert.ok(traceOf(hit).id > traceOf(miss).id, 'each request its own transaction id')

  const pass = await get('/t/1', { cookie: 'session=dave' })
  assert.equal(traceOf(pass).states, 'recv pass deliver finish')

  const synth = await get('/dead')
  assert.equal(synth.status, 502)
  assert.equal(traceOf(synth).states, 'recv hash lookup miss synth finish')
  assert.equal(synth.headers['lacquer-key'], `http://${host}/dead`)

  const purge = await get('/t/1', {}, 'PURGE')
  assert.equal(purge.status, 200)
  assert.equal(traceOf(purge).states, 'recv purge finish')

  // the words may come in any case, with others
  const mixed = await get('/t/2', { 'lacquer-debug': 'tags, TRACE' })
  assert.equal(traceOf(mixed).states, 'recv hash lookup miss deliver finish')
})

test('the trace id is the transaction id of the access log line', async () => {
  const res = await request(`${trusted.url}/t/logged`, { headers: TRACE })
  const { id } = traceOf(res)
  let record: any
  for (let i = 0; i < 100 && !record; i++) {
    record = readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((r) => r.url === '/t/logged')
    if (!record) await sleep(10)
  }
  assert.ok(record, 'the request was logged')
  assert.equal(record.id, id)
})

test('a per-user key shows its part as an HMAC, never the cookie', async () => {
  const secret = 'very-secret-session-value'
  const res = await request(`${trusted.url}/account/me`, { headers: { ...TRACE, cookie: `session=${secret}` } })
  const key = String(res.headers['lacquer-key'])
  assert.match(key, new RegExp(`^http://${new URL(trusted.url).host.replace(/\./g, '\\.')}/account/me \\| \\S+`))
  assert.ok(!key.includes(secret), key)
  assert.ok(!String(res.headers['lacquer-trace']).includes(secret))
})

test('no Lacquer-Debug, no trace; the header is never forwarded to the origin', async () => {
  const plain = await request(`${trusted.url}/t/3`)
  assert.equal(plain.headers['lacquer-trace'], undefined)
  assert.equal(plain.headers['lacquer-key'], undefined)
  await request(`${trusted.url}/t/4`, { headers: TRACE })
  await request(`${untrusted.url}/t/5`, { headers: TRACE })
  await request(`${trusted.url}/t/6`, { headers: { ...TRACE, cookie: 'session=erin' } })
  await request(`${untrusted.url}/t/7`, { headers: { ...TRACE, cookie: 'session=erin' } })
  await request(`${untrusted.url}/t/8`, { headers: { ...TRACE, authorization: `Bearer ${TOKEN}` } })
  for (const path of ['/t/4', '/t/5', '/t/6', '/t/7', '/t/8']) {
    const seen = origin.received.filter((r) => r.url === path)
    assert.equal(seen.length, 1, path)
    assert.equal(seen[0]!.headers['lacquer-debug'], undefined, `${path}: Lacquer-Debug reached the origin`)
  }
})

test('from a caller outside trust.allow the header is ignored; the bearer token makes the caller trusted', async () => {
  const res = await request(`${untrusted.url}/u/1`, { headers: TRACE })
  assert.equal(res.status, 200)
  assert.equal(res.headers['lacquer-trace'], undefined)
  assert.equal(res.headers['lacquer-key'], undefined)
  const again = await request(`${untrusted.url}/u/1`, { headers: TRACE })
  assert.match(cacheStatus(again), /; hit/)
  assert.equal(again.headers['lacquer-trace'], undefined)
  const wrong = await request(`${untrusted.url}/u/1`, { headers: { ...TRACE, authorization: 'Bearer wrong-token-0123456789' } })
  assert.equal(wrong.headers['lacquer-trace'], undefined)
  const withToken = await request(`${untrusted.url}/u/1`, { headers: { ...TRACE, authorization: `Bearer ${TOKEN}` } })
  assert.match(String(withToken.headers['lacquer-trace']), /^\d+ recv hash lookup hit deliver finish$/)
})

test('a trace never sticks: not to the stored response, not to waiters that joined a traced fetch', async () => {
  const first = request(`${trusted.url}/slow`, { headers: TRACE })
  await sleep(50)
  const waiters = await Promise.all(Array.from({ length: 5 }, () => request(`${trusted.url}/slow`)))
  const traced = await first
  assert.equal(traceOf(traced).states, 'recv hash lookup miss deliver finish')
  for (const w of waiters) {
    assert.match(cacheStatus(w), /collapsed/)
    assert.equal(w.headers['lacquer-trace'], undefined, 'a waiter did not ask for a trace')
  }
  const later = await request(`${trusted.url}/slow`)
  assert.match(cacheStatus(later), /; hit/)
  assert.equal(later.headers['lacquer-trace'], undefined)
  assert.equal(later.headers['lacquer-key'], undefined)
  // a traced waiter gets its own trace
  const o = origin.count('/slow-2')
  const leader = request(`${trusted.url}/slow-2`)
  await sleep(20)
  const tracedWaiter = await request(`${trusted.url}/slow-2`, { headers: TRACE })
  await leader
  assert.equal(origin.count('/slow-2'), o + 1)
  assert.match(cacheStatus(tracedWaiter), /collapsed/)
  assert.equal(traceOf(tracedWaiter).states, 'recv hash lookup deliver finish')
})
