/**
 * i007: bad input on the admin API's POST /purge. Each malformed request gets a 400 (413 for a
 * body over 1 MiB) naming the problem, and nothing is applied: a valid item in the same
 * request (a URL, a tag) is not purged. GET /purge is 405; a request whose bans would exceed
 * invalidation.maxBans is 503, nothing applied.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy } from '../helpers/proxy.js'
import { admin, adminPurge, countingRoute, originGets } from '../helpers/invalidation.js'

let origin: TestOrigin
let proxy: TestProxy
let validUrl: string

before(async () => {
  origin = await startOrigin({
    '/valid': countingRoute(),
    '/tagged': countingRoute(() => ({ 'surrogate-key': 'valid-tag' })),
    '/ok/pattern-v2-v2': countingRoute(),
  })
  proxy = await startProxy({ origin: origin.url, invalidation: { maxBans: 2 } })
  validUrl = `${proxy.url}/valid`
  for (const path of ['/valid', '/tagged']) {
    await request(`${proxy.url}${path}`)
    assert.ok(isHit(await request(`${proxy.url}${path}`)))
  }
})
after(async () => { await proxy.close(); await origin.close() })

/** Nothing was applied: the valid URL and the tagged entry are still hits, no ban is pending. */
async function assertNothingApplied(): Promise<void> {
  for (const path of ['/valid', '/tagged']) {
    const res = await request(`${proxy.url}${path}`)
    assert.ok(isHit(res), `${path} must not have been purged: ${cacheStatus(res)}`)
    assert.equal(originGets(origin, path), 1)
  }
  const bans = await admin(proxy.adminUrl, 'GET', '/bans')
  assert.deepEqual(bans.body.bans, [], 'no ban was added')
}

async function assertRefused(body: unknown, status: number, message: RegExp): Promise<void> {
  const res = await adminPurge(proxy.adminUrl, body)
  assert.equal(res.status, status, res.text)
  assert.equal(res.body.ok, false)
  assert.ok(Array.isArray(res.body.errors) && res.body.errors.length > 0, res.text)
  assert.match(res.body.errors.join('\n'), message)
  await assertNothingApplied()
}

const cases: Array<[string, unknown, RegExp]> = [
  ['an unknown field', { urls: ['URL'], tags: ['valid-tag'], everything: true }, /unknown field "everything"/],
  ['an empty tag', { urls: ['URL'], tags: ['valid-tag', ''] }, /tags\[1\]: a tag is not empty/],
  ['a tag with spaces', { urls: ['URL'], tags: ['valid-tag', 'two words'] }, /tags\[1\]: a tag has no spaces or commas/],
  ['a tag with a comma', { urls: ['URL'], tags: ['valid-tag', 'a,b'] }, /tags\[1\]: a tag has no spaces or commas/],
  ['a relative URL', { urls: ['URL', '/valid'], tags: ['valid-tag'] }, /urls\[1\]: "\/valid" is not an absolute URL/],
  ['an ftp URL', { urls: ['URL', 'ftp://127.0.0.1/valid'], tags: ['valid-tag'] }, /urls\[1\]: .*only http and https/],
  ['a URL with credentials', { urls: ['URL', 'http://u:p@127.0.0.1/valid'] }, /urls\[1\]: .*no credentials/],
  ['a catastrophic regex (a+)+$', { urls: ['URL'], tags: ['valid-tag'], patterns: ['(a+)+$'] }, /patterns\[0\]: .*nests quantifiers/],
  ['a back-reference regex', { urls: ['URL'], tags: ['valid-tag'], patterns: ['^/(a)\\1$'] }, /patterns\[0\]: .*back-references/],
  ['a look-ahead regex', { urls: ['URL'], patterns: ['^/(?=v)valid'] }, /patterns\[0\]: .*look-around/],
  ['an invalid regex', { urls: ['URL'], patterns: ['^/[valid'] }, /patterns\[0\]: not a valid regular expression/],
  ['an empty regex', { urls: ['URL'], patterns: [''] }, /patterns\[0\]: the pattern is empty/],
  ['a prefix without a leading slash', { urls: ['URL'], prefixes: ['valid'] }, /prefixes\[0\]: a prefix is a path and starts with \//],
  ['host alone, with no prefixes or patterns', { urls: ['URL'], host: '127.0.0.1' }, /host: limits prefixes and patterns to one site; to ban a whole site use "hosts"/],
  ['a host with a space', { urls: ['URL'], hosts: ['shop example'] }, /hosts\[0\]: a host is a name or address/],
  ['urls not an array', { urls: 'URL' }, /urls: expected array/],
  ['soft not a boolean', { urls: ['URL'], soft: 'yes' }, /soft: expected boolean/],
  ['an empty object', {}, /nothing to purge/],
  ['a JSON array', ['URL'], /expected object/],
  ['JSON null', null, /expected object/],
  ['more than 1000 URLs', { urls: Array.from({ length: 1001 }, (_, i) => (i === 0 ? 'URL' : `http://127.0.0.1/p/${i}`)) }, /urls: .*1000/],
  ['more than 1000 items in all', {
    urls: ['URL', ...Array.from({ length: 599 }, (_, i) => `http://127.0.0.1/p/${i}`)],
    tags: ['valid-tag', ...Array.from({ length: 599 }, (_, i) => `t${i}`)],
  }, /1200 items in one request; send at most 1000/],
]

for (const [what, body, message] of cases) {
  test(`POST /purge with ${what}: 400 naming the problem, nothing applied`, async () => {
    const withUrl = JSON.parse(JSON.stringify(body).replaceAll('"URL"', JSON.stringify(validUrl)))
    await assertRefused(withUrl, 400, message)
  })
}

test('POST /purge with invalid JSON: 400, nothing applied', async () => {
  const res = await admin(proxy.adminUrl, 'POST', '/purge', { raw: `{"urls": ["${validUrl}"], "tags": ["valid-tag"]` })
  assert.equal(res.status, 400)
  assert.match(res.body.errors[0], /the body is not JSON/)
  await assertNothingApplied()
})

test('POST /purge with an empty body: 400', async () => {
  const res = await admin(proxy.adminUrl, 'POST', '/purge', { raw: '' })
  assert.equal(res.status, 400)
  assert.match(res.body.errors[0], /the body is empty/)
  await assertNothingApplied()
})

test('POST /purge with a body over 1 MiB: 413, with and without Content-Length; nothing applied', async () => {
  const big = JSON.stringify({ urls: [validUrl], tags: ['valid-tag'], padding: 'x'.repeat(1 << 20) })
  const declared = await admin(proxy.adminUrl, 'POST', '/purge', { raw: big })
  assert.equal(declared.status, 413)
  assert.match(declared.body.errors[0], /at most 1048576/)
  const chunked = await admin(proxy.adminUrl, 'POST', '/purge', { raw: big, chunked: true })
  assert.equal(chunked.status, 413)
  assert.match(chunked.body.errors[0], /larger than 1048576/)
  await assertNothingApplied()
})

test('GET /purge is 405 with Allow: POST; POST /bans is 405', async () => {
  const res = await admin(proxy.adminUrl, 'GET', '/purge')
  assert.equal(res.status, 405)
  assert.equal(res.headers.allow, 'POST')
  const bans = await admin(proxy.adminUrl, 'POST', '/bans', { json: {} })
  assert.equal(bans.status, 405)
  assert.equal(bans.headers.allow, 'GET')
  await assertNothingApplied()
})

test('more bans in one request than invalidation.maxBans: 400 (retrying cannot help), nothing applied', async () => {
  const res = await adminPurge(proxy.adminUrl, { urls: [validUrl], tags: ['valid-tag'], prefixes: ['/a', '/b', '/valid'] })
  assert.equal(res.status, 400, res.text)
  assert.equal(res.body.ok, false)
  assert.match(res.body.errors[0], /3 bans in one request, more than invalidation\.maxBans \(2\)/)
  await assertNothingApplied()
})

test('an upper-case host and a default port are taken as keys hold them', async () => {
  const res = await adminPurge(proxy.adminUrl, { prefixes: ['/nothing-here/'], host: 'Shop.Example:80', wait: true })
  assert.equal(res.status, 200, res.text)
  assert.equal(res.body.bans[0].host, 'shop.example')
})

test('a linear-time pattern with a quantified non-capturing group is accepted', async () => {
  await request(`${proxy.url}/ok/pattern-v2-v2`)
  const res = await adminPurge(proxy.adminUrl, { patterns: ['^/ok/pattern(?:-v2)+$'], wait: true })
  assert.equal(res.status, 200, res.text)
  assert.equal(res.body.invalidated.bans, 1)
})
