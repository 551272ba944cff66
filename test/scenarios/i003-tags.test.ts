/**
 * i003: tags (surrogate keys). Responses carry `Surrogate-Key` (space-separated), `Cache-Tag`
 * (comma-separated) or `xkey`, or get a rule's `tags`; a tag purge (admin POST /purge {tags},
 * or PURGE with `xkey-purge`) invalidates every entry carrying the tag — every Vary variant,
 * every user's entry — and nothing else. The tag fields are stripped from what clients get,
 * shown with `Lacquer-Debug: tags` to a trusted caller only; Lacquer-Debug never reaches the
 * origin. The field names are configurable (invalidation.tagHeaders).
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy, type TestResponse } from '../helpers/proxy.js'
import { adminPurge, countingRoute, originGets, purge } from '../helpers/invalidation.js'

let origin: TestOrigin
let proxy: TestProxy
let untrusted: TestProxy
let renamed: TestProxy

before(async () => {
  origin = await startOrigin({
    '/sk': countingRoute(() => ({ 'surrogate-key': 'product-1 catalog', vary: 'Accept-Language' })),
    '/ct': countingRoute(() => ({ 'cache-tag': 'product-1, sale' })),
    '/xk': countingRoute(() => ({ xkey: 'product-2 catalog2' })),
    '/rule': countingRoute(),
    '/user/page': countingRoute(() => ({ 'surrogate-key': 'product-1' })),
    '/none': countingRoute(),
    '/both': countingRoute(() => ({ 'surrogate-key': 'sk-tag', 'x-tags': 'xt-tag' })),
  })
  const rules = [
    { match: { path: '/user/**' }, perUser: { cookie: 'session' } },
    { match: { path: '/rule' }, tags: ['from-rule'] },
  ]
  proxy = await startProxy({ origin: origin.url, rules })
  untrusted = await startProxy({ origin: origin.url, rules, trust: { allow: ['10.0.0.0/8'] } })
  renamed = await startProxy({ origin: origin.url, invalidation: { tagHeaders: ['X-Tags'] } })
})
after(async () => { await proxy.close(); await untrusted.close(); await renamed.close(); await origin.close() })

const get = (base: string, path: string, headers: Record<string, string> = {}) => request(`${base}${path}`, { headers })

async function stored(base: string, path: string, headers: Record<string, string> = {}): Promise<TestResponse> {
  await get(base, path, headers)
  const again = await get(base, path, headers)
  assert.ok(isHit(again), `${path} ${JSON.stringify(headers)} stored: ${cacheStatus(again)}`)
  return again
}

const TAG_FIELDS = ['surrogate-key', 'cache-tag', 'xkey']

function assertNoTagFields(res: TestResponse, what: string): void {
  for (const name of TAG_FIELDS) assert.equal(res.headers[name], undefined, `${what}: ${name} must be stripped`)
}

test('tag fields are stripped from client responses, on the miss and on the hit', async () => {
  const miss = await get(proxy.url, '/ct')
  assert.ok(!isHit(miss))
  assertNoTagFields(miss, 'miss')
  const hit = await get(proxy.url, '/ct')
  assert.ok(isHit(hit))
  assertNoTagFields(hit, 'hit')
  const head = await request(`${proxy.url}/ct`, { method: 'HEAD' })
  assertNoTagFields(head, 'HEAD')
})

test('Lacquer-Debug: tags from a trusted caller shows the tag fields; it is never forwarded to the origin', async () => {
  const first = await get(proxy.url, '/xk', { 'lacquer-debug': 'tags' })
  assert.equal(first.headers.xkey, 'product-2 catalog2', 'shown on the miss')
  const hit = await get(proxy.url, '/xk', { 'lacquer-debug': 'tags' })
  assert.ok(isHit(hit))
  assert.equal(hit.headers.xkey, 'product-2 catalog2', 'shown on the hit')
  const plain = await get(proxy.url, '/xk')
  assertNoTagFields(plain, 'the same object without the debug field')
  const forwarded = origin.received.filter((r) => r.url === '/xk')
  assert.equal(forwarded.length, 1)
  assert.equal(forwarded[0]!.headers['lacquer-debug'], undefined, 'Lacquer-Debug is not forwarded')
})

test('Lacquer-Debug from an untrusted caller is ignored (tags stay hidden) and not forwarded', async () => {
  const miss = await get(untrusted.url, '/sk', { 'lacquer-debug': 'tags', 'accept-language': 'de' })
  assertNoTagFields(miss, 'untrusted miss')
  const hit = await get(untrusted.url, '/sk', { 'lacquer-debug': 'tags', 'accept-language': 'de' })
  assert.ok(isHit(hit))
  assertNoTagFields(hit, 'untrusted hit')
  const last = origin.received.filter((r) => r.url === '/sk').at(-1)!
  assert.equal(last.headers['lacquer-debug'], undefined)
})

test('a tag purge (admin) hits every variant and user carrying the tag, from Surrogate-Key and Cache-Tag, and nothing else', async () => {
  await stored(proxy.url, '/sk', { 'accept-language': 'en' })
  await stored(proxy.url, '/sk', { 'accept-language': 'fr' })
  await stored(proxy.url, '/ct')
  await stored(proxy.url, '/user/page', { cookie: 'session=alice' })
  await stored(proxy.url, '/user/page', { cookie: 'session=bob' })
  await stored(proxy.url, '/xk')
  await stored(proxy.url, '/rule')
  await stored(proxy.url, '/none')
  const before = { sk: originGets(origin, '/sk'), ct: originGets(origin, '/ct'), user: originGets(origin, '/user/page') }

  const res = await adminPurge(proxy.adminUrl, { tags: ['product-1'] })
  assert.equal(res.status, 200, res.text)
  assert.deepEqual(res.body.invalidated, { urls: 0, tags: 5, bans: 0 })

  for (const [path, headers] of [
    ['/sk', { 'accept-language': 'en' }], ['/sk', { 'accept-language': 'fr' }], ['/ct', {}],
    ['/user/page', { cookie: 'session=alice' }], ['/user/page', { cookie: 'session=bob' }],
  ] as const) {
    const after = await get(proxy.url, path, headers)
    assert.ok(!isHit(after), `${path} ${JSON.stringify(headers)} carried product-1: ${cacheStatus(after)}`)
  }
  assert.equal(originGets(origin, '/sk'), before.sk + 2)
  assert.equal(originGets(origin, '/ct'), before.ct + 1)
  assert.equal(originGets(origin, '/user/page'), before.user + 2)
  for (const path of ['/xk', '/rule', '/none']) {
    const kept = await get(proxy.url, path)
    assert.ok(isHit(kept), `${path} does not carry product-1: ${cacheStatus(kept)}`)
  }
  // the second Cache-Tag value after ", " is a tag too
  const sale = await adminPurge(proxy.adminUrl, { tags: ['sale'] })
  assert.deepEqual(sale.body.invalidated, { urls: 0, tags: 1, bans: 0 })
  assert.ok(!isHit(await get(proxy.url, '/ct')))
})

test('PURGE with xkey-purge purges the tags it names (xkey field), not the URL it was sent to', async () => {
  await stored(proxy.url, '/xk')
  await stored(proxy.url, '/none')
  const gets = originGets(origin, '/xk')
  const res = await purge(proxy.url, '/none', { 'xkey-purge': 'catalog2 no-such-tag' })
  assert.equal(res.status, 200, res.body)
  assert.deepEqual(JSON.parse(res.body).invalidated, { urls: 0, tags: 1, bans: 0 })
  const after = await get(proxy.url, '/xk')
  assert.ok(!isHit(after), cacheStatus(after))
  assert.equal(originGets(origin, '/xk'), gets + 1)
  assert.ok(isHit(await get(proxy.url, '/none')), 'the request URL itself is not purged by a tag purge')
})

test('a rule\'s tags are indexed like response tags', async () => {
  await stored(proxy.url, '/rule')
  const gets = originGets(origin, '/rule')
  const res = await adminPurge(proxy.adminUrl, { tags: ['from-rule'] })
  assert.deepEqual(res.body.invalidated, { urls: 0, tags: 1, bans: 0 })
  assert.ok(!isHit(await get(proxy.url, '/rule')))
  assert.equal(originGets(origin, '/rule'), gets + 1)
})

test('invalidation.tagHeaders: only the configured fields are tags and stripped', async () => {
  const miss = await get(renamed.url, '/both')
  assert.equal(miss.headers['x-tags'], undefined, 'the configured field is stripped')
  assert.equal(miss.headers['surrogate-key'], 'sk-tag', 'a field no longer configured is delivered as is')
  await stored(renamed.url, '/both')
  const notATag = await adminPurge(renamed.adminUrl, { tags: ['sk-tag'] })
  assert.deepEqual(notATag.body.invalidated, { urls: 0, tags: 0, bans: 0 })
  assert.ok(isHit(await get(renamed.url, '/both')))
  const debug = await get(renamed.url, '/both', { 'lacquer-debug': 'tags' })
  assert.equal(debug.headers['x-tags'], 'xt-tag')
  const res = await adminPurge(renamed.adminUrl, { tags: ['xt-tag'] })
  assert.deepEqual(res.body.invalidated, { urls: 0, tags: 1, bans: 0 })
  assert.ok(!isHit(await get(renamed.url, '/both')))
})
