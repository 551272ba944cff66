/**
 * c006: invalidation (RFC 9111 §4.4): a non-error (2xx/3xx) response to an unsafe method —
 * POST, PUT, DELETE, PATCH or a method the cache does not know — invalidates the stored
 * responses for the target URI and for the same-origin URIs in Location and
 * Content-Location (not those of another origin); an error response (4xx/5xx) invalidates
 * nothing. The primary cache key is the target URI including its query (§2).
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { describe, test } from 'node:test'
import { cacheStatus, isHit } from '../helpers/proxy.js'
import { originRequests } from '../helpers/rfc-scenario.js'
import { useOriginAndProxy } from '../helpers/scenario-setup.js'

const env = useOriginAndProxy()
const { get } = env

/** A cacheable GET resource whose body names how many GETs the origin has seen. */
function serveGet(path: string): void {
  let n = 0
  env.origin.on(path, (req, res, body) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end(`${req.method} got ${body}`)
      return
    }
    n++
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
    res.end(`${path} GET #${n}`)
  })
}

/** GETs `path` twice so it is stored and has been reused once. */
async function fill(path: string): Promise<void> {
  await get(path)
  const hit = await get(path)
  assert.ok(isHit(hit), `${path} should be stored: ${cacheStatus(hit)}`)
}

/** Sends a request with any method (node's client accepts extension methods such as M-SEARCH). */
function send(method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${env.proxy.url}${path}`, { method, agent: false, headers: body === undefined ? {} : { 'content-type': 'text/plain' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function assertInvalidated(path: string, getsBefore: number): Promise<void> {
  const after = await get(path)
  assert.ok(!isHit(after), `${path} must have been invalidated: ${cacheStatus(after)}`)
  assert.equal(after.body, `${path} GET #${getsBefore + 1}`)
  assert.equal(originRequests(env.origin, path, 'GET').length, getsBefore + 1)
}

async function assertStillStored(path: string, getsBefore: number): Promise<void> {
  const after = await get(path)
  assert.ok(isHit(after), `${path} must still be stored: ${cacheStatus(after)}`)
  assert.equal(after.body, `${path} GET #${getsBefore}`)
  assert.equal(originRequests(env.origin, path, 'GET').length, getsBefore)
}

describe('unsafe methods with a successful answer invalidate the target URI', () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'M-SEARCH']) {
    test(`${method} with a 2xx answer invalidates the stored response`, async () => {
      const path = `/c006/target/${method}`
      serveGet(path)
      await fill(path)
      const res = await send(method, path, method === 'DELETE' || method === 'M-SEARCH' ? undefined : 'payload')
      assert.equal(res.status, 200)
      assert.equal(originRequests(env.origin, path, method).length, 1, `${method} was forwarded to the origin`)
      await assertInvalidated(path, 1)
    })
  }

  test('a 3xx answer to an unsafe method also invalidates (it is not an error)', async () => {
    const path = '/c006/target/303'
    let n = 0
    env.origin.on(path, (req, res) => {
      if (req.method === 'POST') { res.writeHead(303, { location: '/c006/elsewhere' }); res.end(); return }
      n++
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end(`${path} GET #${n}`)
    })
    await fill(path)
    const res = await send('POST', path, 'x')
    assert.equal(res.status, 303)
    await assertInvalidated(path, 1)
  })

  test('a safe method (GET, HEAD, OPTIONS) does not invalidate', async () => {
    const path = '/c006/target/safe'
    serveGet(path)
    await fill(path)
    await send('OPTIONS', path)
    await send('HEAD', path)
    await assertStillStored(path, 1)
  })
})

describe('Location and Content-Location (§4.4)', () => {
  test('same-origin URIs in Location and Content-Location of a successful POST are invalidated too', async () => {
    const target = '/c006/loc/target'
    const location = '/c006/loc/created'
    const contentLocation = '/c006/loc/content'
    const untouched = '/c006/loc/untouched'
    for (const path of [target, location, contentLocation, untouched]) serveGet(path)
    env.origin.on(target, (req, res) => {
      if (req.method === 'POST') {
        res.writeHead(201, { location, 'content-location': contentLocation })
        res.end('created')
        return
      }
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end(`${target} GET #${originRequests(env.origin, target, 'GET').length}`)
    })
    for (const path of [target, location, contentLocation, untouched]) await fill(path)
    const res = await send('POST', target, 'new thing')
    assert.equal(res.status, 201)
    await assertInvalidated(target, 1)
    await assertInvalidated(location, 1)
    await assertInvalidated(contentLocation, 1)
    await assertStillStored(untouched, 1)
  })

  test('an absolute same-origin Location (this cache\'s own authority) and a relative one (../) are invalidated', async () => {
    const target = '/c006/abs/dir/target'
    const absolute = '/c006/abs/absolute'
    const relative = '/c006/abs/relative'
    for (const path of [absolute, relative]) serveGet(path)
    env.origin.on(target, (_req, res) => {
      res.writeHead(200, { location: `${env.proxy.url}${absolute}`, 'content-location': '../relative' })
      res.end('ok')
    })
    await fill(absolute)
    await fill(relative)
    await send('PUT', target, 'x')
    await assertInvalidated(absolute, 1)
    await assertInvalidated(relative, 1)
  })

  test('a Location on another origin does not invalidate the path of the same name here', async () => {
    const target = '/c006/other-origin/target'
    const path = '/c006/other-origin/page'
    serveGet(path)
    env.origin.on(target, (_req, res) => {
      res.writeHead(201, { location: `http://other.example${path}`, 'content-location': `http://other.example:8080${path}` })
      res.end('ok')
    })
    await fill(path)
    await send('POST', target, 'x')
    await assertStillStored(path, 1)
  })
})

describe('failed unsafe requests invalidate nothing', () => {
  for (const status of [400, 404, 409, 500, 503]) {
    test(`a POST answered ${status} leaves the target, Location and Content-Location stored`, async () => {
      const target = `/c006/failed/${status}`
      const location = `/c006/failed/${status}/location`
      serveGet(location)
      let gets = 0
      env.origin.on(target, (req, res) => {
        if (req.method === 'POST') {
          res.writeHead(status, { location, 'content-location': location })
          res.end('failed')
          return
        }
        gets++
        res.writeHead(200, { 'cache-control': 'max-age=60' })
        res.end(`${target} GET #${gets}`)
      })
      await fill(target)
      await fill(location)
      const res = await send('POST', target, 'x')
      assert.equal(res.status, status)
      await assertStillStored(target, 1)
      await assertStillStored(location, 1)
    })
  }
})

describe('the query is part of the key (§2)', () => {
  test('different query strings are different entries', async () => {
    const path = '/c006/query'
    env.origin.on(path, (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end(`for ${req.url}`)
    })
    const a = await get(`${path}?a=1`)
    const b = await get(`${path}?a=2`)
    const none = await get(path)
    assert.equal(a.body, `for ${path}?a=1`)
    assert.equal(b.body, `for ${path}?a=2`)
    assert.equal(none.body, `for ${path}`)
    const a2 = await get(`${path}?a=1`)
    const b2 = await get(`${path}?a=2`)
    assert.ok(isHit(a2) && isHit(b2), `${cacheStatus(a2)} / ${cacheStatus(b2)}`)
    assert.equal(a2.body, `for ${path}?a=1`)
    assert.equal(b2.body, `for ${path}?a=2`)
    assert.equal(env.origin.count(`${path}?a=1`), 1)
    assert.equal(env.origin.count(`${path}?a=2`), 1)
    assert.equal(env.origin.count(path), 1)
  })

  test('invalidating one query string leaves the others stored', async () => {
    const path = '/c006/query-invalidate'
    env.origin.on(path, (req, res) => {
      if (req.method === 'POST') { res.writeHead(204); res.end(); return }
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end(`for ${req.url} #${originRequests(env.origin, req.url ?? '', 'GET').length}`)
    })
    await fill(`${path}?a=1`)
    await fill(`${path}?a=2`)
    await send('POST', `${path}?a=1`, 'x')
    const a = await get(`${path}?a=1`)
    const b = await get(`${path}?a=2`)
    assert.ok(!isHit(a), cacheStatus(a))
    assert.equal(a.body, `for ${path}?a=1 #2`)
    assert.ok(isHit(b), cacheStatus(b))
    assert.equal(b.body, `for ${path}?a=2 #1`)
  })
})
