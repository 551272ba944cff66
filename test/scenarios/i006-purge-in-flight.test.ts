/**
 * i006: a purge reaches responses still on their way from the origin. The origin is slow
 * (300 ms); request A starts the fetch; a purge of the URL — or of a tag the response carries,
 * or a ban matching it — is issued while the fetch is in flight. A still gets its response,
 * but it is not stored (the next GET goes to the origin), and a request B arriving after the
 * purge does not join A's fetch (the origin sees B's own request). A purge that does not match
 * changes nothing: A's response is stored and B joins it.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startOrigin, sleep, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy, type TestResponse } from '../helpers/proxy.js'
import { adminPurge, countingRoute, eventually, originGets, purge } from '../helpers/invalidation.js'

const ORIGIN_DELAY_MS = 300

let origin: TestOrigin
let proxy: TestProxy

before(async () => {
  origin = await startOrigin()
  proxy = await startProxy({ origin: origin.url })
})
after(async () => { await proxy.close(); await origin.close() })

type Kind = 'url' | 'tag' | 'ban'

/** Issues a purge of the given kind that matches `path` (or, with `other`, one that does not). */
async function purgeKind(kind: Kind, path: string, tag: string, other = false): Promise<void> {
  if (kind === 'url') {
    const res = await purge(proxy.url, other ? `${path}-other` : path)
    assert.equal(res.status, 200, res.body)
  } else if (kind === 'tag') {
    const res = await adminPurge(proxy.adminUrl, { tags: [other ? `${tag}-other` : tag] })
    assert.equal(res.status, 200, res.text)
  } else {
    const res = await adminPurge(proxy.adminUrl, { prefixes: [other ? `${path}-other` : path] })
    assert.equal(res.status, 200, res.text)
  }
}

let serial = 0
function slowRoute(): { path: string; tag: string } {
  const path = `/inflight/r${++serial}`
  const tag = `tag-r${serial}`
  origin.on(path, countingRoute(() => ({ 'surrogate-key': tag }), { delayMs: ORIGIN_DELAY_MS }))
  return { path, tag }
}

/** Starts request A and waits until the origin has it (the fetch is in flight). */
async function startA(path: string): Promise<{ a: Promise<TestResponse>; isDone: () => boolean }> {
  const before = originGets(origin, path)
  let isDone = false
  const a = request(`${proxy.url}${path}`).finally(() => { isDone = true })
  await eventually(() => originGets(origin, path) === before + 1, 2000, 'A to reach the origin')
  // (returned in an object: an async function returning a promise would wait for it)
  return { a, isDone: () => isDone }
}

for (const kind of ['url', 'tag', 'ban'] as const) {
  test(`${kind} purge while the fetch is in flight: A gets its response, it is not stored, the next GET goes to the origin`, async () => {
    const { path, tag } = slowRoute()
    const { a, isDone } = await startA(path)
    await purgeKind(kind, path, tag)
    assert.equal(isDone(), false, 'the purge was issued while A was in flight')
    const resA = await a
    assert.equal(resA.status, 200)
    assert.equal(resA.body, `${path} GET #1`, 'A gets the response it asked for')
    await sleep(20)
    const next = await request(`${proxy.url}${path}`)
    assert.ok(!isHit(next), `A's response must not have been stored: ${cacheStatus(next)}`)
    assert.equal(next.body, `${path} GET #2`)
    assert.equal(originGets(origin, path), 2)
  })

  test(`${kind} purge while the fetch is in flight: B, arriving after the purge, does not join A's fetch`, async () => {
    const { path, tag } = slowRoute()
    const { a, isDone } = await startA(path)
    await purgeKind(kind, path, tag)
    assert.equal(isDone(), false, 'the purge was issued while A was in flight')
    const resB = await request(`${proxy.url}${path}`)
    const resA = await a
    assert.equal(resA.body, `${path} GET #1`)
    assert.equal(resB.body, `${path} GET #2`, 'B got its own origin response')
    assert.doesNotMatch(cacheStatus(resB), /collapsed/, cacheStatus(resB))
    assert.equal(originGets(origin, path), 2, 'B made its own origin request')
    // what B fetched after the purge may be stored; A's never is
    const later = await request(`${proxy.url}${path}`)
    assert.notEqual(later.body, `${path} GET #1`, 'A\'s purged response is never served from the store')
  })
}

for (const kind of ['url', 'ban'] as const) {
  test(`control: a ${kind} purge that does not match the fetch in flight: B joins it and A's response is stored`, async () => {
    const { path, tag } = slowRoute()
    const { a, isDone } = await startA(path)
    await purgeKind(kind, path, tag, true)
    assert.equal(isDone(), false, 'the purge was issued while A was in flight')
    const resB = await request(`${proxy.url}${path}`)
    const resA = await a
    assert.equal(resA.body, `${path} GET #1`)
    assert.equal(resB.body, `${path} GET #1`, 'B joined A\'s fetch')
    assert.match(cacheStatus(resB), /collapsed/)
    assert.equal(originGets(origin, path), 1)
    const later = await request(`${proxy.url}${path}`)
    assert.ok(isHit(later), cacheStatus(later))
    assert.equal(later.body, `${path} GET #1`)
  })
}

test('control: a purge of another tag while the fetch is in flight does not stop A\'s response from being stored', async () => {
  const { path, tag } = slowRoute()
  const { a, isDone } = await startA(path)
  await purgeKind('tag', path, tag, true)
  assert.equal(isDone(), false, 'the purge was issued while A was in flight')
  const resA = await a
  assert.equal(resA.body, `${path} GET #1`)
  await sleep(20)
  const later = await request(`${proxy.url}${path}`)
  assert.ok(isHit(later), cacheStatus(later))
  assert.equal(originGets(origin, path), 1)
})
