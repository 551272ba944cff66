/**
 * r008: what the new-user trial of the pass path and the access log found (2026-12-04
 * evening), each with the behaviour that answers it. (The access log's reopen that could not
 * open its path is in r004, beside the other reopen tests.)
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync, renameSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { startOrigin, sleep, type TestOrigin } from '../helpers/origin.js'
import { request, startProxy, type TestProxy } from '../helpers/proxy.js'
import { useTempDirs } from '../helpers/temp-dirs.js'

const temp = useTempDirs('lacquer-r008-')

let origin: TestOrigin
let proxy: TestProxy
let logFile: string

before(async () => {
  origin = await startOrigin({
    '/upload': (_req, res, body) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(`got ${body.length}`) },
  })
  logFile = join(temp.dir(), 'access.log')
  proxy = await startProxy({ origin: origin.url, accessLog: { format: 'json', output: logFile } })
})
after(async () => { await proxy.close(); await origin.close() })

/** Sends raw bytes on a new connection; resolves with what came back and how the connection ended. */
function raw(bytes: string, opts: { end?: 'fin' | 'reset'; afterMs?: number; waitMs?: number } = {}): Promise<{ text: string; closedAfterMs: number | undefined }> {
  const { port } = new URL(proxy.url)
  return new Promise((resolve) => {
    const started = Date.now()
    let text = ''
    let closedAfterMs: number | undefined
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      socket.write(bytes)
      if (opts.end) setTimeout(() => (opts.end === 'reset' ? socket.resetAndDestroy() : socket.end()), opts.afterMs ?? 50)
    })
    socket.on('data', (d) => { text += d })
    socket.on('error', () => {})
    socket.on('close', () => { closedAfterMs = Date.now() - started })
    setTimeout(() => { socket.destroy(); resolve({ text, closedAfterMs }) }, opts.waitMs ?? 1000)
  })
}

async function logLines(): Promise<Array<Record<string, unknown>>> {
  await sleep(120)
  return readFileSync(logFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
}

const head = (path: string, fields: string) => `POST ${path} HTTP/1.1\r\nHost: shop.example\r\n${fields}\r\n`

test('a chunked request body with a malformed chunk size is a 400 at once (RFC 9112 §7.1), the connection closed, nothing sent to the origin, one log line', async () => {
  const before = origin.received.length
  const { text, closedAfterMs } = await raw(`${head('/upload?bad-size', 'Transfer-Encoding: chunked\r\n')}ZZ\r\nabc\r\n0\r\n\r\n`)
  assert.match(text, /^HTTP\/1\.1 400 /)
  assert.match(text, /lacquer-error: ERR_HTTP_BAD_REQUEST/i)
  assert.match(text, /malformed request body/)
  assert.ok(closedAfterMs !== undefined && closedAfterMs < 900, `closed at once, not after a timeout (${closedAfterMs} ms)`)
  assert.equal(origin.received.length, before)
  const lines = (await logLines()).filter((l) => l.url === '/upload?bad-size')
  assert.equal(lines.length, 1)
  assert.equal(lines[0]!.method, 'POST')
  assert.equal(lines[0]!.status, 400)
})

test('a chunk whose data does not end in CRLF is a 400 at once as well', async () => {
  const { text, closedAfterMs } = await raw(`${head('/upload?bad-end', 'Transfer-Encoding: chunked\r\n')}3\r\nabcXX\r\n0\r\n\r\n`)
  assert.match(text, /^HTTP\/1\.1 400 /)
  assert.ok(closedAfterMs !== undefined && closedAfterMs < 900, `closed at once (${closedAfterMs} ms)`)
  const lines = (await logLines()).filter((l) => l.url === '/upload?bad-end')
  assert.equal(lines.length, 1)
  assert.equal(lines[0]!.status, 400)
})

test('a client that closes its side mid-upload is let go at once and logged once, as 499 with its method and URL; nothing reaches the origin', async () => {
  const before = origin.received.length
  const { text, closedAfterMs } = await raw(`${head('/upload?fin', 'Content-Length: 100000\r\n')}${'x'.repeat(50_000)}`, { end: 'fin', afterMs: 100 })
  assert.equal(text, '', 'no answer is owed to a request that never arrived whole')
  assert.ok(closedAfterMs !== undefined && closedAfterMs < 900, `the connection closed at once, not held in CLOSE-WAIT (${closedAfterMs} ms)`)
  assert.equal(origin.received.length, before)
  const lines = (await logLines()).filter((l) => l.url === '/upload?fin')
  assert.equal(lines.length, 1, JSON.stringify(lines))
  assert.equal(lines[0]!.method, 'POST')
  assert.equal(lines[0]!.status, 499)
  assert.ok(proxy.logs.some((l) => /client closed the connection before its request body was whole/.test(l.msg) && l.fields?.url === '/upload?fin'))
})

test('a client that resets its connection mid-upload is logged once, as 499', async () => {
  await raw(`${head('/upload?rst', 'Content-Length: 100000\r\n')}${'x'.repeat(20_000)}`, { end: 'reset', afterMs: 100, waitMs: 600 })
  const lines = (await logLines()).filter((l) => l.url === '/upload?rst')
  assert.equal(lines.length, 1, JSON.stringify(lines))
  assert.equal(lines[0]!.status, 499)
})

test('after all that, uploads still work, whole', async () => {
  const body = 'y'.repeat(300_000)
  const res = await request(`${proxy.url}/upload`, { method: 'POST', body })
  assert.equal(res.status, 200)
  assert.equal(res.body, `got ${body.length}`)
})

test('a config reload (POST /reload, lacquer reload) reopens the access log as SIGHUP does: a logrotate postrotate may use either', async () => {
  const file = join(temp.dir(), 'access.log')
  const options = { origin: origin.url, accessLog: { format: 'json' as const, output: file } }
  const own = await startProxy(options)
  try {
    await request(`${own.url}/upload?before-rotate`, { method: 'POST', body: 'a' })
    await sleep(120)
    renameSync(file, `${file}.1`)
    own.proxy.reload(options)
    assert.ok(existsSync(file), 'the reload opened the path again')
    await request(`${own.url}/upload?after-rotate`, { method: 'POST', body: 'b' })
  } finally {
    await own.close()
  }
  assert.match(readFileSync(`${file}.1`, 'utf8'), /before-rotate/)
  const fresh = readFileSync(file, 'utf8')
  assert.match(fresh, /after-rotate/)
  assert.doesNotMatch(fresh, /before-rotate/)
})

/** A Lacquer in front of a raw origin that answers every request with `answer` (bytes the test chooses); the status and Lacquer-Error it gives. */
async function throughRawOrigin(answer: string, path: string): Promise<{ status: number; error: unknown }> {
  const rawOrigin = net.createServer((socket) => {
    socket.once('data', () => socket.write(answer))
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => rawOrigin.listen(0, '127.0.0.1', resolve))
  const own = await startProxy({ origin: `http://127.0.0.1:${(rawOrigin.address() as net.AddressInfo).port}` })
  try {
    const res = await request(`${own.url}${path}`)
    return { status: res.status, error: res.headers['lacquer-error'] }
  } finally {
    await own.close()
    rawOrigin.close()
  }
}

test('an origin that answers with a 100 Continue nobody asked for, then its response: a 502 naming a bad response (ERR_ORIGIN_BAD_RESPONSE), not an unreachable origin', async () => {
  // undici (the origin client) refuses an interim 100 it did not ask for; the answer must say what happened
  const res = await throughRawOrigin('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: max-age=60\r\n\r\nok', '/interim')
  assert.deepEqual(res, { status: 502, error: 'ERR_ORIGIN_BAD_RESPONSE' })
})

test('a client that leaves a private download midway cancels the origin request without blaming the origin: no origin error counted, no warning', async () => {
  let cancelled = false
  const own = await startProxy({ origin: origin.url })
  origin.on('/private-big', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'private' })
    const chunk = Buffer.alloc(64 * 1024, 0x61)
    const timer = setInterval(() => res.write(chunk), 10)
    res.on('close', () => { clearInterval(timer); cancelled = true })
  })
  try {
    const { port } = new URL(own.url)
    await new Promise<void>((resolve) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write('GET /private-big HTTP/1.1\r\nHost: shop.example\r\n\r\n'))
      let got = 0
      socket.on('data', (d) => { got += d.length; if (got > 200_000) { socket.destroy(); resolve() } })
      socket.on('error', () => {})
    })
    for (let i = 0; i < 50 && !cancelled; i++) await sleep(20)
    assert.ok(cancelled, 'the origin request was cancelled')
    await sleep(50)
    const stats = JSON.parse((await request(`${own.adminUrl}/stats`)).body) as { originErrors: number; incompleteBodies: number }
    assert.equal(stats.originErrors, 0)
    assert.equal(stats.incompleteBodies, 0)
    assert.ok(!own.logs.some((l) => l.msg === 'origin fetch failed'), JSON.stringify(own.logs.filter((l) => l.level === 'warn')))
    assert.equal((await request(`${own.url}/upload`, { method: 'POST', body: 'z' })).status, 200)
  } finally {
    await own.close()
  }
})

test('an origin response with two different Content-Lengths is a 502 naming a bad response (RFC 9112 §6.3), not an incomplete body', async () => {
  const res = await throughRawOrigin('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!', '/two-lengths')
  assert.deepEqual(res, { status: 502, error: 'ERR_ORIGIN_BAD_RESPONSE' })
})

test('a client\'s If-None-Match on an uncacheable (private) page is answered 304 by Lacquer, which held it back from the origin; not when the page sets a cookie', async () => {
  origin.on('/etag-private', (_req, res) => { res.writeHead(200, { etag: '"v1"', 'cache-control': 'private', 'content-type': 'text/plain' }); res.end('private page') })
  origin.on('/etag-cookie', (_req, res) => { res.writeHead(200, { etag: '"v1"', 'set-cookie': 'sid=new', 'content-type': 'text/plain' }); res.end('cookie page') })
  for (let i = 0; i < 2; i++) {
    // the second time the key is hit-for-miss: the same answer
    const res = await request(`${proxy.url}/etag-private`, { headers: { 'if-none-match': '"v1"' } })
    assert.equal(res.status, 304, `request ${i}`)
    assert.equal(res.body, '')
    assert.equal(res.headers.etag, '"v1"')
  }
  const other = await request(`${proxy.url}/etag-private`, { headers: { 'if-none-match': '"v0"' } })
  assert.equal(other.status, 200)
  assert.equal(other.body, 'private page')
  const cookie = await request(`${proxy.url}/etag-cookie`, { headers: { 'if-none-match': '"v1"' } })
  assert.equal(cookie.status, 200, 'a 304 would drop the Set-Cookie')
  assert.equal(cookie.headers['set-cookie']?.[0], 'sid=new')
})
