/**
 * Unit tests for origin/backend: a request holds its connection (inFlight) until its body was
 * received whole, failed or was dropped; a request that got no response counts as an error; a
 * full queue refuses at once. A leak here would refuse every request once the limit is reached.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import type { ResolvedOrigin } from '../config/resolve-origins.js'
import { LacquerError } from '../errors.js'
import { Backend } from './backend.js'

let server: http.Server
let url = ''

before(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/slow-body') {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('part')
      return // never ends: the client drops it
    }
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end(`body of ${req.url}`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

function backend(options: Partial<ResolvedOrigin> = {}): Backend {
  return new Backend({
    name: 'app', url, weight: 1, connections: 2, maxQueue: 0, connectTimeoutMs: 1000, firstByteTimeoutMs: 2000, betweenBytesTimeoutMs: 2000,
    probe: null, ...options,
  }, () => {})
}

test('a request is in flight until its body was received whole (read or not yet); then its connection is free', async () => {
  const b = backend()
  const open = await b.request({ method: 'GET', path: '/slow-body', headers: [['host', 'app']] })
  assert.equal(b.stats().inFlight, 1, 'the body is still coming')
  const res = await b.request({ method: 'GET', path: '/a', headers: [['host', 'app']] })
  const chunks: Buffer[] = []
  await res.body.consume((chunk) => { chunks.push(chunk) })
  assert.equal(Buffer.concat(chunks).toString(), 'body of /a')
  assert.deepEqual([b.stats().inFlight, b.stats().requests, b.stats().errors], [1, 2, 0])
  open.body.destroy()
  assert.equal(b.stats().inFlight, 0)
  await b.close()
})

test('a dropped body frees its connection; a request that got no response is an error and frees it too', async () => {
  const b = backend()
  const res = await b.request({ method: 'GET', path: '/slow-body', headers: [['host', 'app']] })
  res.body.destroy()
  assert.equal(b.stats().inFlight, 0)
  const refused = backend({ url: 'http://127.0.0.1:1' })
  await assert.rejects(refused.request({ method: 'GET', path: '/', headers: [['host', 'app']] }), LacquerError)
  assert.deepEqual([refused.stats().inFlight, refused.stats().requests, refused.stats().errors], [0, 1, 1])
  await Promise.all([b.close(), refused.close()])
})

test('connections and queue full: refused at once (ERR_ORIGIN_QUEUE_FULL) without counting as in flight; freed ones take requests again', async () => {
  const b = backend({ connections: 1, maxQueue: 0 })
  const first = await b.request({ method: 'GET', path: '/slow-body', headers: [['host', 'app']] })
  await assert.rejects(b.request({ method: 'GET', path: '/2', headers: [['host', 'app']] }), (err: LacquerError) => err.code === 'ERR_ORIGIN_QUEUE_FULL')
  assert.deepEqual([b.stats().inFlight, b.stats().queueFull], [1, 1])
  first.body.destroy()
  const again = await b.request({ method: 'GET', path: '/3', headers: [['host', 'app']] })
  again.body.resume()
  await new Promise<void>((resolve) => again.body.onClose(resolve))
  assert.deepEqual([b.stats().inFlight, b.stats().requests, b.stats().errors], [0, 2, 0])
  await b.close()
})
