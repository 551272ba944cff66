import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { resolveConfig } from '../config/resolve.js'
import { parseCacheControl } from '../http-cache/cache-control.js'
import { computeFreshness } from '../http-cache/freshness.js'
import type { Logger } from '../observe/logger.js'
import { MemoryStore } from '../store/memory-store.js'
import type { ObjectHead } from '../store/types.js'
import { parsePurgeRequest, resourceForUrl } from './command.js'
import { Invalidator, TooManyBansError } from './invalidator.js'
import { collectTags } from './tags.js'

const quiet: Logger = () => {}

function head(key: string, tags: string[] = [], invalidationSeq = 0): ObjectHead {
  const now = Date.now()
  const headers: [string, string][] = [['cache-control', 'max-age=60']]
  const cc = parseCacheControl(['max-age=60'])
  return {
    key, status: 200, statusText: 'OK', headers, varyNames: [], varyValues: [], cc, isTargeted: false,
    freshness: computeFreshness(200, headers, cc, false, now, now), deleteAt: now + 60_000, tags, invalidationSeq,
  }
}

function put(store: MemoryStore, h: ObjectHead): void {
  const writer = store.openWrite(h)!
  writer.write(Buffer.from('x'))
  void writer.end()
}

function setup(options: Partial<ConstructorParameters<typeof Invalidator>[2]> = {}) {
  const store = new MemoryStore({ maxBytes: 64 << 20, maxObjectBytes: 1 << 20 })
  const invalidator = new Invalidator(store, quiet, { maxBans: 100, sweepIntervalMs: 60_000, ...options })
  return { store, invalidator, [Symbol.dispose]: () => invalidator.close() }
}

describe('Invalidator', () => {
  test('URL and tag purges go through the store indexes and count what they invalidated', async () => {
    using s = setup()
    put(s.store, head('http://a/p?x=1', ['t1']))
    put(s.store, head('https://a/p?x=1\nuser=u', ['t1', 't2']))
    put(s.store, head('http://a/q', ['t2']))
    const receipt = await s.invalidator.apply({ mode: 'hard', resources: ['a/p?x=1'], tags: ['t2'] })
    assert.deepEqual(receipt.invalidated, { urls: 2, tags: 1, bans: 0 })
    assert.equal(receipt.isComplete, true)
    assert.equal(s.store.stats().objects, 0)
    assert.equal(s.invalidator.seq, 1)
  })

  test('a ban is applied lazily on lookup to objects stored before it, never to later ones', async () => {
    using s = setup()
    put(s.store, head('http://a/products/1'))
    put(s.store, head('http://a/about'))
    await s.invalidator.apply({ mode: 'hard', bans: [{ prefix: '/products/' }] })
    const after = s.invalidator.seq
    put(s.store, head('http://a/products/2', [], after))
    assert.equal(s.invalidator.checkObject(s.store.lookup('http://a/products/1', [])!), undefined)
    assert.equal(s.store.lookup('http://a/products/1', []), undefined, 'removed from the store')
    assert.ok(s.invalidator.checkObject(s.store.lookup('http://a/about', [])!))
    assert.ok(s.invalidator.checkObject(s.store.lookup('http://a/products/2', [])!), 'stored after the ban')
  })

  test('the sweeper applies bans across the store and then drops them; wait reports the count', async () => {
    using s = setup({ sweepSliceSize: 7 })
    for (let i = 0; i < 50; i++) put(s.store, head(`http://shop/p/${i}`))
    for (let i = 0; i < 10; i++) put(s.store, head(`http://other/p/${i}`))
    const receipt = await s.invalidator.apply({ mode: 'hard', bans: [{ host: 'shop', pattern: '^/p/[0-9]*[05]$' }] }, true)
    assert.equal(receipt.invalidated.bans, 10)
    assert.equal(receipt.bans[0]!.invalidated, 10)
    assert.equal(receipt.isComplete, true)
    assert.equal(s.store.stats().objects, 50)
    assert.deepEqual(s.invalidator.listBans().bans, [], 'dropped after a full pass')
    assert.ok(s.invalidator.listBans().sweeper.passes >= 1)
  })

  test('a soft ban marks stale; a hard one after it removes', async () => {
    using s = setup()
    put(s.store, head('http://a/x'))
    await s.invalidator.apply({ mode: 'soft', bans: [{ host: 'a' }] }, true)
    const object = s.store.lookup('http://a/x', [])
    assert.ok(object?.softPurgedAt !== undefined)
    await s.invalidator.apply({ mode: 'hard', bans: [{ prefix: '/' }] }, true)
    assert.equal(s.store.lookup('http://a/x', []), undefined)
  })

  test('affectsFetch: a purge issued while a response is in flight matches it by URL, tag or ban', async () => {
    using s = setup()
    const start = s.invalidator.seq
    assert.equal(s.invalidator.affectsFetch(start, 'http://a/p', []), false, 'nothing issued since')
    await s.invalidator.apply({ mode: 'hard', resources: ['a/other'] })
    assert.equal(s.invalidator.affectsFetch(start, 'http://a/p', ['t']), false, 'another URL')
    await s.invalidator.apply({ mode: 'soft', resources: ['a/p'] })
    assert.equal(s.invalidator.affectsFetch(start, 'https://a/p\nuser=u', []), true, 'same resource, other scheme and user')
    const later = s.invalidator.seq
    await s.invalidator.apply({ mode: 'hard', tags: ['t'] })
    assert.equal(s.invalidator.affectsFetch(later, 'http://a/z', ['t']), true)
    assert.equal(s.invalidator.affectsFetch(later, 'http://a/z', ['u']), false)
    assert.equal(s.invalidator.affectsFetch(later, 'http://a/z', undefined), true, 'tags not known yet: assume it matches')
    const beforeBan = s.invalidator.seq
    await s.invalidator.apply({ mode: 'hard', bans: [{ prefix: '/z' }] })
    assert.equal(s.invalidator.affectsFetch(beforeBan, 'http://a/z/1', []), true)
    assert.equal(s.invalidator.affectsFetch(beforeBan, 'http://a/y', []), false)
  })

  test('maxBans: a command that would overflow the list is refused whole; one larger than the list, as a bad request', async () => {
    using s = setup({ maxBans: 2 })
    put(s.store, head('http://a/x'))
    await assert.rejects(s.invalidator.apply({ mode: 'hard', resources: ['a/x'], bans: [{ prefix: '/1' }, { prefix: '/2' }, { prefix: '/3' }] }),
      (err: Error) => !(err instanceof TooManyBansError) && /3 bans in one request, more than invalidation.maxBans \(2\)/.test(err.message))
    assert.equal(s.store.stats().objects, 1, 'the URL in the same command was not purged')
    assert.equal(s.invalidator.seq, 0)
    // two bans waiting for the sweeper (issued, not yet swept), then one more: the list is full
    const first = s.invalidator.apply({ mode: 'hard', bans: [{ prefix: '/1' }, { prefix: '/2' }] })
    await assert.rejects(s.invalidator.apply({ mode: 'hard', resources: ['a/x'], bans: [{ prefix: '/3' }] }), TooManyBansError)
    await first
    assert.equal(s.store.stats().objects, 1)
  })

  test('a bad ban is refused whole before anything is applied', async () => {
    using s = setup()
    put(s.store, head('http://a/x'))
    await assert.rejects(s.invalidator.apply({ mode: 'hard', resources: ['a/x'], bans: [{ pattern: '(a+)+' }] }), /nests quantifiers/)
    await assert.rejects(s.invalidator.apply({ mode: 'hard', bans: [{}] }), /needs a host, a prefix or a pattern/)
    assert.equal(s.store.stats().objects, 1)
  })
})

describe('purge requests', () => {
  const config = resolveConfig({
    origin: 'http://127.0.0.1:1',
    rules: [{ match: { path: '/sorted/**' }, key: { query: 'sort' } }],
  })

  test('resourceForUrl normalises as the cache key does', () => {
    assert.equal(resourceForUrl(config, 'http://Shop.Example:80/p?utm_source=x&a=1'), 'shop.example/p?a=1')
    assert.equal(resourceForUrl(config, 'https://shop.example:443/p'), 'shop.example/p')
    assert.equal(resourceForUrl(config, 'http://shop.example:8080/sorted/x?b=2&a=1'), 'shop.example:8080/sorted/x?a=1&b=2')
    assert.match(String(resourceForUrl(config, '/relative')), /not an absolute URL/)
    assert.match(String(resourceForUrl(config, 'ftp://x/y')), /only http and https/)
  })

  test('a valid request becomes one command', () => {
    const parsed = parsePurgeRequest(config, {
      urls: ['http://shop.example/p/1'], tags: ['product-1'], prefixes: ['/cat/'], patterns: ['^/p/[0-9]+$'], hosts: ['old.example'], host: 'shop.example', soft: true, wait: true,
    })
    assert.ok(parsed.ok)
    assert.deepEqual(parsed.command, {
      mode: 'soft', resources: ['shop.example/p/1'], tags: ['product-1'],
      bans: [{ host: 'old.example' }, { host: 'shop.example', prefix: '/cat/' }, { host: 'shop.example', pattern: '^/p/[0-9]+$' }],
    })
    assert.equal(parsed.wait, true)
  })

  test('every problem is named, and nothing is applied', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{}, /nothing to purge/],
      [{ tags: [''] }, /tags\[0\]: a tag is not empty/],
      [{ tags: ['a b'] }, /tags\[0\]: a tag has no spaces/],
      [{ urls: ['/p'] }, /urls\[0\]: "\/p" is not an absolute URL/],
      [{ patterns: ['(a+)+$'] }, /patterns\[0\]: .*nests quantifiers/],
      [{ prefixes: ['p/'] }, /prefixes\[0\]: a prefix is a path and starts with \//],
      [{ host: 'a.example' }, /host: limits prefixes and patterns to one site/],
      [{ urls: ['http://a/1'], colour: 'red' }, /unknown field "colour"/],
      [{ soft: 'yes', tags: ['t'] }, /soft: expected boolean/],
      [{ tags: Array.from({ length: 600 }, (_, i) => `t${i}`), prefixes: Array.from({ length: 600 }, (_, i) => `/p${i}`) }, /1200 items in one request; send at most 1000/],
      [[1, 2], /body: expected object/],
    ]
    for (const [body, expected] of cases) {
      const parsed = parsePurgeRequest(config, body)
      assert.equal(parsed.ok, false, JSON.stringify(body))
      assert.match(!parsed.ok ? parsed.errors.join('\n') : '', expected, JSON.stringify(body))
    }
  })
})

test('collectTags: the configured fields, space or comma separated, with the rule\'s tags, bounded', () => {
  const names = new Set(['surrogate-key', 'cache-tag', 'xkey'])
  const { tags, dropped } = collectTags([
    ['surrogate-key', 'a  b'], ['cache-tag', 'c,d, e'], ['xkey', 'a'], ['x-other', 'z'],
  ], names, ['rule'])
  assert.deepEqual(tags.sort(), ['a', 'b', 'c', 'd', 'e', 'rule'])
  assert.equal(dropped, 0)
  const many = collectTags([['xkey', Array.from({ length: 1005 }, (_, i) => `t${i}`).join(' ')], ['xkey', 'x'.repeat(600)]], names, undefined)
  assert.equal(many.tags.length, 1000)
  assert.equal(many.dropped, 6)
})
