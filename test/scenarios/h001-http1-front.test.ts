/**
 * h001: Lacquer's own HTTP/1.1 connection layer (http/h1-connection.ts, ADR 0009), on raw
 * sockets: pipelined requests answered in order, a head arriving byte by byte, persistence
 * for HTTP/1.0 and 1.1 (RFC 9112 §9.3), body framing by length, chunks or close (§6.3), a body
 * that ends short never looking whole, a connection handed to node's parser mid-way (a POST
 * after a GET in one packet) with its bytes intact, and a CR LF from a policy edit refused
 * instead of splitting the response.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { startProxy, type TestProxy } from '../helpers/proxy.js'
import { prng } from '../helpers/prng.js'
import { RawConnection, rawExchange } from '../helpers/raw-socket.js'

let origin: TestOrigin
let proxy: TestProxy
let port: number
const PAGE = 'the cached page\n'

before(async () => {
  origin = await startOrigin({
    '/page': (_req, res) => { res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain', 'content-length': PAGE.length }); res.end(PAGE) },
    '/streamed': (_req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store', 'content-type': 'text/plain' })
      res.write('part one, ')
      setTimeout(() => res.end('part two'), 20)
    },
    '/short': (_req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '100' })
      res.write('only ten b')
      setTimeout(() => res.destroy(), 20)
    },
    '/echo': (req, res, body) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(`${req.method} ${body}`) },
  })
  proxy = await startProxy({ origin: origin.url })
  port = Number(new URL(proxy.url).port)
})
after(async () => { await proxy.close(); await origin.close() })

const get = (path: string, ...fields: string[]) => `GET ${path} HTTP/1.1\r\nHost: h001\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`

describe('pipelining and persistence', () => {
  test('three requests in one packet are answered in order on one connection, which stays open', async () => {
    const conn = await RawConnection.open(port)
    conn.write(get('/page') + get('/page') + 'HEAD /page HTTP/1.1\r\nHost: h001\r\n\r\n')
    const first = await conn.read()
    const second = await conn.read()
    const third = await conn.read({ isHead: true })
    assert.deepEqual([first.status, first.body.toString()], [200, PAGE])
    assert.deepEqual([second.status, second.body.toString()], [200, PAGE])
    assert.match(second.headers['cache-status'] ?? '', /hit/)
    assert.equal(third.status, 200)
    assert.equal(third.headers['content-length'], String(PAGE.length), 'HEAD keeps the length the GET would have')
    assert.equal(conn.unread, '', 'no body after the HEAD response')
    conn.write(get('/page'))
    assert.equal((await conn.read()).body.toString(), PAGE, 'the connection persists')
    conn.destroy()
  })

  test('a head arriving one byte at a time is answered', async () => {
    const conn = await RawConnection.open(port)
    for (const byte of get('/page', 'X-Slow: yes')) {
      conn.write(byte)
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    assert.equal((await conn.read()).body.toString(), PAGE)
    conn.destroy()
  })

  test('HTTP/1.1 with Connection: close gets connection: close and the connection ends', async () => {
    const conn = await RawConnection.open(port)
    conn.write(get('/page', 'Connection: close'))
    const res = await conn.read()
    assert.equal(res.headers.connection, 'close')
    assert.equal(await conn.closes(), true)
  })

  test('HTTP/1.0 closes after the response unless it asked for keep-alive', async () => {
    const plain = await RawConnection.open(port)
    plain.write('GET /page HTTP/1.0\r\nHost: h001\r\n\r\n')
    assert.equal((await plain.read()).headers.connection, 'close')
    assert.equal(await plain.closes(), true)

    const kept = await RawConnection.open(port)
    kept.write('GET /page HTTP/1.0\r\nHost: h001\r\nConnection: keep-alive\r\n\r\n')
    assert.equal((await kept.read()).headers.connection, 'keep-alive')
    kept.write('GET /page HTTP/1.0\r\nHost: h001\r\nConnection: keep-alive\r\n\r\n')
    assert.equal((await kept.read()).body.toString(), PAGE)
    kept.destroy()
  })
})

describe('pipelined requests cut at random places', () => {
  for (const seed of [1, 2, 3]) {
    test(`seed ${seed}: 12 requests (GET, HEAD, a POST handed over) in random pieces, answered in order`, async () => {
      const random = prng(seed)
      const plan = Array.from({ length: 12 }, (_, i) => (i === 8 ? 'post' : random() < 0.25 ? 'head' : random() < 0.5 ? 'streamed' : 'page'))
      const bytes = Buffer.from(plan.map((kind) => kind === 'head' ? 'HEAD /page HTTP/1.1\r\nHost: h001\r\n\r\n'
        : kind === 'post' ? 'POST /echo HTTP/1.1\r\nHost: h001\r\nContent-Length: 3\r\n\r\nabc'
          : get(kind === 'page' ? '/page' : '/streamed')).join(''), 'latin1')
      const conn = await RawConnection.open(port)
      for (let at = 0; at < bytes.length;) {
        const size = 1 + Math.floor(random() * 60)
        conn.write(bytes.subarray(at, at + size))
        at += size
        if (random() < 0.3) await new Promise((resolve) => setTimeout(resolve, 1))
      }
      for (const [i, kind] of plan.entries()) {
        const res = await conn.read({ isHead: kind === 'head' })
        const expected = kind === 'head' ? '' : kind === 'post' ? 'POST abc' : kind === 'streamed' ? 'part one, part two' : PAGE
        assert.equal(res.status, 200, `response ${i} (${kind})`)
        assert.equal(res.body.toString(), expected, `response ${i} (${kind})`)
      }
      conn.destroy()
    })
  }
})

describe('body framing (RFC 9112 §6.3)', () => {
  test('a body of unknown length goes chunked to HTTP/1.1, and the connection persists', async () => {
    const conn = await RawConnection.open(port)
    conn.write(get('/streamed'))
    const res = await conn.read()
    assert.equal(res.framing, 'chunked')
    assert.equal(res.body.toString(), 'part one, part two')
    conn.write(get('/page'))
    assert.equal((await conn.read()).status, 200)
    conn.destroy()
  })

  test('to HTTP/1.0 it is delimited by closing the connection', async () => {
    const res = await rawExchange(port, 'GET /streamed HTTP/1.0\r\nHost: h001\r\nConnection: keep-alive\r\n\r\n')
    assert.equal(res.status, 200)
    assert.equal(res.headers['transfer-encoding'], undefined)
    assert.equal(res.headers.connection, 'close')
    assert.equal(res.body, 'part one, part two')
    assert.equal(res.timedOut, false)
  })

  test('a body that ends short of its Content-Length ends the connection: it never looks whole', async () => {
    const conn = await RawConnection.open(port)
    conn.write(get('/short'))
    await assert.rejects(conn.read(), /connection closed before a whole response/)
  })
})

describe('handing a connection to node\'s parser', () => {
  test('a POST pipelined behind a GET: both answered, the POST body reaches the origin, the connection goes on', async () => {
    const conn = await RawConnection.open(port)
    const before = origin.received.length
    conn.write(`${get('/page')}POST /echo HTTP/1.1\r\nHost: h001\r\nContent-Length: 5\r\n\r\nhello${get('/page')}`)
    assert.equal((await conn.read()).body.toString(), PAGE)
    assert.equal((await conn.read()).body.toString(), 'POST hello')
    assert.equal((await conn.read()).body.toString(), PAGE)
    const posts = origin.received.slice(before).filter((r) => r.method === 'POST')
    assert.deepEqual(posts.map((r) => r.body), ['hello'])
    conn.destroy()
  })

  test('a malformed head (obs-fold) after a good request is answered 400 by node\'s parser, and never reaches the origin', async () => {
    const conn = await RawConnection.open(port)
    const before = origin.received.length
    conn.write(`${get('/page')}GET /echo HTTP/1.1\r\nHost: h001\r\nX-A: 1\r\n folded\r\n\r\n`)
    assert.equal((await conn.read()).status, 200)
    const bad = await conn.read()
    assert.equal(bad.status, 400)
    assert.equal(bad.headers['lacquer-error'], 'ERR_HTTP_BAD_REQUEST')
    assert.equal(origin.received.slice(before).filter((r) => r.url === '/echo').length, 0)
  })

  test('a head over limits.maxHeaderBytes gets 431', async () => {
    const res = await rawExchange(port, get('/page', `X-Big: ${'a'.repeat(70_000)}`))
    assert.equal(res.status, 431)
  })
})

describe('response splitting', () => {
  test('a CR LF in a header value from a policy edit gives 500, never a second header line', async () => {
    const evil = await startProxy({ origin: origin.url }, {
      deliver: () => ({ action: 'deliver', edits: { set: { 'x-note': 'a\r\nSet-Cookie: stolen=1' } } }),
    })
    try {
      const res = await rawExchange(Number(new URL(evil.url).port), get('/page', 'Connection: close'))
      assert.equal(res.status, 500)
      assert.equal(res.headers['set-cookie'], undefined)
      assert.doesNotMatch(res.raw, /stolen/)
    } finally {
      await evil.close()
    }
  })
})
