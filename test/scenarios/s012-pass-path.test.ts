/**
 * s012: the pass path answers as a proxy must, and the fields of one response never leak into
 * another's. A pass (and any answer for one client alone) is edited where it is: its
 * hop-by-hop fields and the ones Connection names go, Via and Cache-Status follow the
 * upstream members, surrogate keys are hidden, Date is added when the origin sent none,
 * Set-Cookie reaches its own client and nothing is stored. A response other clients or the
 * store read is copied per client: each coalesced waiter, and each later hit, carries
 * Lacquer's Via and Cache-Status members once.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import http from 'node:http'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy } from '../helpers/proxy.js'

let origin: TestOrigin
let proxy: TestProxy
let cookies = 0
const LATE_BODY_MS = 400

const UPSTREAM_FIELDS = [
  ['Content-Type', 'text/plain'], ['Via', '1.1 app-cache'], ['Cache-Status', 'app-cache; hit'],
  ['Connection', 'X-Hop'], ['X-Hop', 'for the next hop only'], ['Keep-Alive', 'timeout=9'],
  ['Surrogate-Key', 'product-1 listing'], ['X-End-To-End', 'kept'],
]

before(async () => {
  origin = await startOrigin({
    '/pass/fields': (_req, res) => {
      // no Date: Lacquer adds the one it received the response at (RFC 9110 §6.6.1)
      res.sendDate = false
      res.writeHead(200, [...UPSTREAM_FIELDS, ['Set-Cookie', `sid=${++cookies}`], ['Cache-Control', 'private, no-store']].flat())
      res.end('pass body')
    },
    '/private': (_req, res) => {
      res.writeHead(200, [...UPSTREAM_FIELDS, ['Set-Cookie', `sid=${++cookies}`], ['Cache-Control', 'private']].flat())
      res.end('private body')
    },
    '/pass/late-body': async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'private, no-store' })
      res.flushHeaders()
      await sleep(LATE_BODY_MS)
      res.end('late body')
    },
    '/shared-slow': async (_req, res) => {
      await sleep(200)
      res.writeHead(200, [...UPSTREAM_FIELDS, ['Cache-Control', 'public, max-age=60']].flat())
      res.end('shared body')
    },
  })
  proxy = await startProxy({ origin: origin.url, rules: [{ match: { path: '/pass/**' }, pass: true }] })
})
after(async () => { await proxy.close(); await origin.close() })

/** What every client must see of the upstream fields: Via and Cache-Status with Lacquer's member once, last. */
function assertProxyFields(res: Awaited<ReturnType<typeof request>>, what: string): void {
  assert.equal(res.headers.via, '1.1 app-cache, 1.1 lacquer', `${what}: Via`)
  const members = String(res.headers['cache-status']).split(',').map((m) => m.trim())
  assert.equal(members.length, 2, `${what}: Cache-Status ${res.headers['cache-status']}`)
  assert.equal(members[0], 'app-cache; hit', what)
  assert.match(members[1]!, /^lacquer;/, what)
  assert.equal(res.headers['x-hop'], undefined, `${what}: a field Connection names is for one hop`)
  assert.equal(res.headers['keep-alive'], undefined, `${what}: hop-by-hop`)
  assert.equal(res.headers['surrogate-key'], undefined, `${what}: surrogate keys are Lacquer's`)
  assert.equal(res.headers['x-end-to-end'], 'kept', what)
  assert.ok(res.headers.date, `${what}: Date`)
}

test('a pass: hop-by-hop and Connection-named fields out, Via and Cache-Status after the upstream members, tags hidden, Date added, its own cookie, nothing stored', async () => {
  for (const n of [1, 2]) {
    const res = await request(`${proxy.url}/pass/fields`)
    assert.equal(res.status, 200)
    assert.equal(res.body, 'pass body')
    assertProxyFields(res, `pass ${n}`)
    assert.equal(cacheStatus(res), 'lacquer; fwd=bypass; fwd-status=200; detail=RULE-PASS')
    assert.equal(res.headers['set-cookie']?.[0], `sid=${cookies}`, 'the cookie the origin set for this request')
    assert.equal(res.headers['cache-control'], 'private, no-store')
  }
  assert.equal(origin.count('/pass/fields'), 2, 'every pass goes to the origin')
})

test('an answer for one client alone on a miss (private): the same fields, its own cookie, never reused', async () => {
  const first = await request(`${proxy.url}/private`)
  const second = await request(`${proxy.url}/private`)
  for (const res of [first, second]) {
    assertProxyFields(res, 'private')
    assert.equal(isHit(res), false)
  }
  assert.notEqual(first.headers['set-cookie']?.[0], second.headers['set-cookie']?.[0])
  assert.equal(origin.count('/private'), 2)
})

test('a shared answer is copied per client: every coalesced waiter and every later hit carries Lacquer\'s members once', async () => {
  const agent = new http.Agent({ keepAlive: false })
  const waiting = await Promise.all([1, 2, 3, 4].map(() => request(`${proxy.url}/shared-slow`, { agent })))
  for (const [i, res] of waiting.entries()) {
    assert.equal(res.body, 'shared body')
    assertProxyFields(res, `waiter ${i}`)
  }
  assert.equal(origin.count('/shared-slow'), 1, 'one origin request for all of them')
  assert.ok(waiting.some((res) => /collapsed/.test(cacheStatus(res))), 'the others joined the fetch')
  for (const n of [1, 2]) {
    const hit = await request(`${proxy.url}/shared-slow`)
    assert.ok(isHit(hit), cacheStatus(hit))
    assertProxyFields(hit, `hit ${n}`)
  }
  agent.destroy()
})

test('a head whose body is late is sent at once: the client does not wait for the first body byte', async () => {
  const startedAt = Date.now()
  const { headAt, endAt, body } = await new Promise<{ headAt: number; endAt: number; body: string }>((resolve, reject) => {
    http.get(`${proxy.url}/pass/late-body`, { agent: false }, (res) => {
      const headAt = Date.now()
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ headAt, endAt: Date.now(), body }))
    }).on('error', reject)
  })
  assert.equal(body, 'late body')
  assert.ok(endAt - startedAt >= LATE_BODY_MS - 20, `the body took ${endAt - startedAt} ms`)
  assert.ok(headAt - startedAt < LATE_BODY_MS / 2, `the head came after ${headAt - startedAt} ms, with the body`)
})
