/**
 * i005: soft purge. `PURGE` with `Lacquer-Soft-Purge: 1`, or POST /purge {soft: true} (URLs,
 * tags, bans), marks entries stale instead of removing them. Within grace (a rule's `grace`, or
 * the response's stale-while-revalidate) the next requests are served the stale copy at once
 * (Cache-Status detail=SOFT-PURGED) while one background fetch revalidates it with the stored
 * validator; the origin's 304 makes it fresh again without a new body. Without grace the next
 * request waits for that revalidation. A hard purge after a soft one removes the entry: no
 * stale copy is served any more, not even when the origin is down.
 */
import assert from 'node:assert/strict'
import type http from 'node:http'
import { after, before, test } from 'node:test'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy } from '../helpers/proxy.js'
import { adminPurge, purge } from '../helpers/invalidation.js'

const REVALIDATION_DELAY_MS = 300

interface ValidatingRoute {
  full: number
  notModified: number
  /** conditional requests seen (If-None-Match values) */
  conditionals: string[]
  down: boolean
}

let origin: TestOrigin
let proxy: TestProxy

/** A cacheable route with an ETag: a conditional request for it gets a (slow) 304. */
function validating(path: string, headers: Record<string, string> = {}): ValidatingRoute {
  const state: ValidatingRoute = { full: 0, notModified: 0, conditionals: [], down: false }
  origin.on(path, async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (state.down) { res.socket?.destroy(); return }
    const inm = req.headers['if-none-match']
    if (inm !== undefined) {
      state.conditionals.push(String(inm))
      if (inm === '"v1"') {
        state.notModified++
        await sleep(REVALIDATION_DELAY_MS)
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=300' })
        res.end()
        return
      }
    }
    state.full++
    res.writeHead(200, { etag: '"v1"', 'cache-control': 'max-age=300', 'content-type': 'text/plain', ...headers })
    res.end(`${path} v1 #${state.full}`)
  })
  return state
}

before(async () => {
  origin = await startOrigin()
  proxy = await startProxy({
    origin: origin.url,
    rules: [{ match: { path: '/grace/**' }, grace: '30s' }],
  })
})
after(async () => { await proxy.close(); await origin.close() })

const get = (path: string) => request(`${proxy.url}${path}`)

async function stored(path: string): Promise<void> {
  await get(path)
  const again = await get(path)
  assert.ok(isHit(again), `${path} stored: ${cacheStatus(again)}`)
}

async function servedStaleAtOnceThenRevalidated(path: string, state: ValidatingRoute): Promise<void> {
  // several clients right after the soft purge: all get the stale copy at once, one fetch refreshes it
  const startedAt = Date.now()
  const all = await Promise.all(Array.from({ length: 5 }, () => get(path)))
  const elapsed = Date.now() - startedAt
  for (const res of all) {
    assert.equal(res.status, 200)
    assert.equal(res.body, `${path} v1 #1`, 'the stored body')
    assert.match(cacheStatus(res), /; hit;.*detail=SOFT-PURGED/, cacheStatus(res))
  }
  assert.ok(elapsed < REVALIDATION_DELAY_MS, `served without waiting for the origin (${elapsed} ms)`)
  await sleep(REVALIDATION_DELAY_MS + 150)
  assert.equal(state.notModified, 1, 'exactly one background revalidation')
  assert.deepEqual(state.conditionals, ['"v1"'], 'revalidated with the stored ETag')
  assert.equal(state.full, 1, 'no new body was fetched')
  const fresh = await get(path)
  assert.ok(isHit(fresh), cacheStatus(fresh))
  assert.doesNotMatch(cacheStatus(fresh), /SOFT-PURGED|STALE/, 'fresh again after the 304')
  assert.match(cacheStatus(fresh), /ttl=(29\d|300)\b/, 'fresh for the 304\'s max-age')
  assert.equal(fresh.body, `${path} v1 #1`)
}

test('PURGE with Lacquer-Soft-Purge: 1 within a rule\'s grace: stale served at once, one background 304 makes it fresh again', async () => {
  const state = validating('/grace/a')
  await stored('/grace/a')
  const res = await purge(proxy.url, '/grace/a', { 'lacquer-soft-purge': '1' })
  assert.equal(res.status, 200, res.body)
  const receipt = JSON.parse(res.body)
  assert.equal(receipt.mode, 'soft')
  assert.deepEqual(receipt.invalidated, { urls: 1, tags: 0, bans: 0 })
  await servedStaleAtOnceThenRevalidated('/grace/a', state)
})

test('admin {soft: true} within stale-while-revalidate: stale served at once, one background 304', async () => {
  const state = validating('/swr/a', { 'cache-control': 'max-age=300, stale-while-revalidate=30' })
  await stored('/swr/a')
  const res = await adminPurge(proxy.adminUrl, { urls: [`${proxy.url}/swr/a`], soft: true })
  assert.equal(res.status, 200, res.text)
  assert.equal(res.body.mode, 'soft')
  assert.deepEqual(res.body.invalidated, { urls: 1, tags: 0, bans: 0 })
  await servedStaleAtOnceThenRevalidated('/swr/a', state)
})

test('soft tag purge (PURGE xkey-purge + Lacquer-Soft-Purge) and soft ban (admin) are served within grace', async () => {
  const tagged = validating('/grace/tagged', { xkey: 'soft-tag' })
  const banned = validating('/grace/banned')
  await stored('/grace/tagged')
  await stored('/grace/banned')
  const byTag = await purge(proxy.url, '/', { 'xkey-purge': 'soft-tag', 'lacquer-soft-purge': '1' })
  assert.equal(byTag.status, 200)
  assert.deepEqual(JSON.parse(byTag.body), { ok: true, purged: { tags: ['soft-tag'] }, mode: 'soft', invalidated: { urls: 0, tags: 1, bans: 0 }, bans: [], isComplete: true })
  const byBan = await adminPurge(proxy.adminUrl, { prefixes: ['/grace/banned'], soft: true, wait: true })
  assert.equal(byBan.status, 200, byBan.text)
  assert.equal(byBan.body.mode, 'soft')
  assert.equal(byBan.body.invalidated.bans, 1)
  await servedStaleAtOnceThenRevalidated('/grace/tagged', tagged)
  await servedStaleAtOnceThenRevalidated('/grace/banned', banned)
})

test('soft purge without grace: the next request waits for the revalidation (304) and gets the stored body', async () => {
  const state = validating('/nograce')
  await stored('/nograce')
  const res = await adminPurge(proxy.adminUrl, { urls: [`${proxy.url}/nograce`], soft: true })
  assert.deepEqual(res.body.invalidated, { urls: 1, tags: 0, bans: 0 })
  const startedAt = Date.now()
  const next = await get('/nograce')
  const elapsed = Date.now() - startedAt
  assert.ok(elapsed >= REVALIDATION_DELAY_MS - 20, `waited for the origin (${elapsed} ms)`)
  assert.match(cacheStatus(next), /fwd=stale; fwd-status=304/, cacheStatus(next))
  assert.equal(next.body, '/nograce v1 #1')
  assert.deepEqual(state.conditionals, ['"v1"'])
  assert.equal(state.full, 1)
  const fresh = await get('/nograce')
  assert.ok(isHit(fresh), cacheStatus(fresh))
  assert.doesNotMatch(cacheStatus(fresh), /STALE|SOFT/)
})

test('a hard purge after a soft one removes the entry: with the origin down the client gets an error, not the stale copy', async () => {
  const state = validating('/hard-after-soft')
  await stored('/hard-after-soft')
  const soft = await adminPurge(proxy.adminUrl, { urls: [`${proxy.url}/hard-after-soft`], soft: true })
  assert.equal(soft.body.invalidated.urls, 1)
  // while only soft-purged, a stale copy exists and may be served while the origin is down
  state.down = true
  const whileSoft = await get('/hard-after-soft')
  assert.equal(whileSoft.status, 200, `soft-purged copy served stale on error: ${cacheStatus(whileSoft)}`)
  assert.equal(whileSoft.body, '/hard-after-soft v1 #1')

  const hard = await purge(proxy.url, '/hard-after-soft')
  assert.equal(hard.status, 200)
  assert.deepEqual(JSON.parse(hard.body).invalidated, { urls: 1, tags: 0, bans: 0 }, 'the soft-purged entry is removed')
  const afterHard = await get('/hard-after-soft')
  assert.ok(afterHard.status >= 500, `an error, not the stale copy: ${afterHard.status} ${cacheStatus(afterHard)}`)
  assert.notEqual(afterHard.body, '/hard-after-soft v1 #1')
  assert.ok(!isHit(afterHard))
  state.down = false
  const back = await get('/hard-after-soft')
  assert.equal(back.body, '/hard-after-soft v1 #2', 'a new body once the origin is back')
})

test('a hard purge after a soft one within grace: no stale serving at all', async () => {
  const state = validating('/grace/hard')
  await stored('/grace/hard')
  await purge(proxy.url, '/grace/hard', { 'lacquer-soft-purge': '1' })
  state.down = true
  const hard = await purge(proxy.url, '/grace/hard')
  assert.deepEqual(JSON.parse(hard.body).invalidated, { urls: 1, tags: 0, bans: 0 })
  const res = await get('/grace/hard')
  assert.ok(res.status >= 500, `${res.status} ${cacheStatus(res)}`)
  assert.doesNotMatch(cacheStatus(res), /SOFT-PURGED|; hit/)
  state.down = false
})
