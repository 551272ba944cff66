/**
 * MemoryStore: the CacheStore conformance suite, plus what only the memory store promises —
 * a byte-bounded LRU with exact byte accounting and checked limits.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { HeaderList } from '../../src/http-cache/header-list.js'
import { MEMORY_FIELD_OVERHEAD, MEMORY_OBJECT_OVERHEAD, MemoryStore } from '../../src/store/memory-store.js'
import type { ObjectHead } from '../../src/store/types.js'
import { makeHead, putObject, runStoreConformance } from './store.suite.js'

runStoreConformance('memory', () => new MemoryStore({ maxBytes: 1024 * 1024, maxObjectBytes: 256 * 1024 }))

/** Fixed response fields, so that every object below has the same header size. */
const HEADERS: HeaderList = [['cache-control', 'max-age=60'], ['content-type', 'text/plain']]
const HEADER_BYTES = HEADERS.reduce((n, [k, v]) => n + k.length + v.length + MEMORY_FIELD_OVERHEAD, 0)
const head = (key: string, extra: Partial<ObjectHead> = {}): ObjectHead => ({ ...makeHead({ key, headers: HEADERS }), ...extra })
/** What the memory store counts for an object with HEADERS and a body of `bodyBytes`. */
const cost = (bodyBytes: number) => bodyBytes + HEADER_BYTES + MEMORY_OBJECT_OVERHEAD

async function keysPresent(store: MemoryStore, keys: string[]): Promise<string[]> {
  const present: string[] = []
  for (const key of keys) if (store.lookup(key, []) !== undefined) present.push(key)
  return present
}

describe('MemoryStore: byte accounting', () => {
  test('an object counts its body, its header fields and a fixed overhead, as measured by bench/memory.mjs', async () => {
    assert.equal(MEMORY_OBJECT_OVERHEAD, 1024)
    assert.equal(MEMORY_FIELD_OVERHEAD, 80)
    const store = new MemoryStore({ maxBytes: 100_000, maxObjectBytes: 10_000 })
    await putObject(store, head('a'), Buffer.alloc(1000))
    assert.deepEqual(store.stats(), { objects: 1, bytes: cost(1000), maxBytes: 100_000, evictions: 0 })
    await putObject(store, head('b'), Buffer.alloc(10))
    assert.equal(store.stats().bytes, cost(1000) + cost(10))
  })

  test('update() recounts the header bytes', async () => {
    const store = new MemoryStore({ maxBytes: 100_000, maxObjectBytes: 10_000 })
    await putObject(store, head('a'), Buffer.alloc(100))
    const object = store.lookup('a', [])!
    const bigger: HeaderList = [...HEADERS, ['x-added', 'y'.repeat(50)]]
    store.update(object, { headers: bigger, cc: object.cc, isTargeted: false, freshness: object.freshness, deleteAt: object.deleteAt, status: 200, statusText: 'OK' })
    assert.equal(store.stats().bytes, cost(100) + 'x-added'.length + 50 + MEMORY_FIELD_OVERHEAD)
    store.update(object, { headers: HEADERS, cc: object.cc, isTargeted: false, freshness: object.freshness, deleteAt: object.deleteAt, status: 200, statusText: 'OK' })
    assert.equal(store.stats().bytes, cost(100))
  })

  test('accountDerived() counts what delivery derived from an object (its prepared head), gives it back, and evicts to stay within maxBytes', async () => {
    const store = new MemoryStore({ maxBytes: cost(100) * 2 + 500, maxObjectBytes: 10_000 })
    await putObject(store, head('a'), Buffer.alloc(100))
    await putObject(store, head('b'), Buffer.alloc(100))
    const a = store.lookup('a', [])!
    store.accountDerived(a, 300)
    assert.equal(store.stats().bytes, cost(100) * 2 + 300)
    store.accountDerived(a, -300)
    assert.equal(store.stats().bytes, cost(100) * 2)
    // over the bound: the least recently used (b, since a was looked up after it) goes
    store.accountDerived(a, 600)
    assert.deepEqual(await keysPresent(store, ['a', 'b']), ['a'])
    assert.equal(store.stats().bytes, cost(100) + 600)
    store.delete('a')
    assert.equal(store.stats().bytes, 0, 'the derived bytes leave with the object')
    store.accountDerived(a, 100)
    assert.equal(store.stats().bytes, 0, 'an object no longer stored is not counted')
  })

  test('update() of an object no longer stored changes nothing', async () => {
    const store = new MemoryStore({ maxBytes: 100_000, maxObjectBytes: 10_000 })
    await putObject(store, head('a'), Buffer.alloc(100))
    const object = store.lookup('a', [])!
    store.delete('a')
    store.update(object, { headers: [...HEADERS, ['x', 'y'.repeat(100)]], cc: object.cc, isTargeted: false, freshness: object.freshness, deleteAt: object.deleteAt, status: 200, statusText: 'OK' })
    assert.deepEqual(store.stats(), { objects: 0, bytes: 0, maxBytes: 100_000, evictions: 0 })
    assert.equal(store.lookup('a', []), undefined)
  })

  test('an expired object found by lookup is dropped and its bytes given back', async () => {
    const store = new MemoryStore({ maxBytes: 100_000, maxObjectBytes: 10_000 })
    await putObject(store, head('a', { deleteAt: Date.now() - 1 }), Buffer.alloc(100))
    await putObject(store, head('b'), Buffer.alloc(100))
    assert.equal(store.stats().objects, 2)
    assert.equal(store.lookup('a', []), undefined)
    assert.deepEqual(store.stats(), { objects: 1, bytes: cost(100), maxBytes: 100_000, evictions: 0 })
  })

  test('close() empties the store', async () => {
    const store = new MemoryStore({ maxBytes: 100_000, maxObjectBytes: 10_000 })
    await putObject(store, head('a'), 'x')
    await store.close()
    assert.equal(store.lookup('a', []), undefined)
    assert.deepEqual(store.stats(), { objects: 0, bytes: 0, maxBytes: 100_000, evictions: 0 })
  })
})

describe('MemoryStore: LRU eviction by bytes', () => {
  const BODY = 1000
  /** room for exactly three objects */
  const newStore = () => new MemoryStore({ maxBytes: 3 * cost(BODY), maxObjectBytes: 10_000 })

  test('the oldest object is evicted first when the store is full', async () => {
    const store = newStore()
    for (const key of ['a', 'b', 'c']) await putObject(store, head(key), Buffer.alloc(BODY))
    assert.deepEqual(store.stats(), { objects: 3, bytes: 3 * cost(BODY), maxBytes: 3 * cost(BODY), evictions: 0 })
    await putObject(store, head('d'), Buffer.alloc(BODY))
    assert.deepEqual(await keysPresent(store, ['a', 'b', 'c', 'd']), ['b', 'c', 'd'])
    assert.deepEqual(store.stats(), { objects: 3, bytes: 3 * cost(BODY), maxBytes: 3 * cost(BODY), evictions: 1 })
  })

  test('a lookup refreshes recency', async () => {
    const store = newStore()
    for (const key of ['a', 'b', 'c']) await putObject(store, head(key), Buffer.alloc(BODY))
    assert.ok(store.lookup('a', []))
    await putObject(store, head('d'), Buffer.alloc(BODY))
    // b is now the least recently used; checking presence also touches, so look at stats first
    assert.equal(store.stats().evictions, 1)
    assert.equal(store.lookup('b', []), undefined)
    assert.deepEqual(await keysPresent(store, ['a', 'c', 'd']), ['a', 'c', 'd'])
  })

  test('a lookup that misses on Vary does not refresh recency', async () => {
    const store = newStore()
    const varied = makeHead({ key: 'a', headers: [...HEADERS.slice(0, 1), ['vary', 'accept']], request: [['accept', 'x']] })
    await putObject(store, varied, Buffer.alloc(BODY - 200))
    for (const key of ['b', 'c']) await putObject(store, head(key), Buffer.alloc(BODY))
    assert.equal(store.lookup('a', [['accept', 'y']]), undefined)
    await putObject(store, head('d'), Buffer.alloc(BODY))
    assert.equal(store.lookup('a', [['accept', 'x']]), undefined, 'a was the least recently used')
    assert.deepEqual(await keysPresent(store, ['b', 'c', 'd']), ['b', 'c', 'd'])
  })

  test('a big object evicts as many old ones as needed, and each eviction is counted', async () => {
    const store = newStore()
    for (const key of ['a', 'b', 'c']) await putObject(store, head(key), Buffer.alloc(BODY))
    await putObject(store, head('big'), Buffer.alloc(2 * BODY))
    assert.equal(store.stats().evictions, 2)
    assert.deepEqual(await keysPresent(store, ['a', 'b', 'c', 'big']), ['c', 'big'])
    for (const key of ['e', 'f', 'g']) await putObject(store, head(key), Buffer.alloc(BODY))
    assert.equal(store.stats().evictions, 4) // c then big; g fits exactly
    assert.equal(store.stats().objects, 3)
  })

  test('replacing or deleting is not an eviction', async () => {
    const store = newStore()
    await putObject(store, head('a'), Buffer.alloc(BODY))
    await putObject(store, head('a'), Buffer.alloc(BODY))
    store.delete('a')
    assert.equal(store.stats().evictions, 0)
  })

  test('an update that makes headers grow past the limit evicts the least recently used', async () => {
    const store = newStore()
    for (const key of ['a', 'b', 'c']) await putObject(store, head(key), Buffer.alloc(BODY))
    const c = store.lookup('c', [])!
    store.update(c, { headers: [...HEADERS, ['x-big', 'z'.repeat(100)]], cc: c.cc, isTargeted: false, freshness: c.freshness, deleteAt: c.deleteAt, status: 200, statusText: 'OK' })
    assert.equal(store.stats().evictions, 1)
    assert.deepEqual(await keysPresent(store, ['a', 'b', 'c']), ['b', 'c'])
  })

  test('an object that can never fit is dropped without evicting others', async () => {
    // the body fits maxObjectBytes, but body + headers + overhead exceeds maxBytes
    const store = new MemoryStore({ maxBytes: 2000, maxObjectBytes: 2000 })
    await putObject(store, head('small'), Buffer.alloc(10))
    const writer = store.openWrite(head('huge'), 1900)
    assert.ok(writer)
    assert.equal(writer.write(Buffer.alloc(1900)), true)
    writer.end()
    assert.equal(store.lookup('huge', []), undefined)
    assert.ok(store.lookup('small', []))
    assert.deepEqual(store.stats(), { objects: 1, bytes: cost(10), maxBytes: 2000, evictions: 0 })
  })
})

describe('MemoryStore: object size limit', () => {
  test('openWrite declines an expectedBytes above maxObjectBytes, and accepts it at the limit', () => {
    const store = new MemoryStore({ maxBytes: 100_000, maxObjectBytes: 100 })
    assert.equal(store.openWrite(head('k'), 101), undefined)
    assert.ok(store.openWrite(head('k'), 100))
    assert.ok(store.openWrite(head('k'), 0))
  })

  test('write() returns false once the body passes maxObjectBytes, and nothing is stored', async () => {
    const store = new MemoryStore({ maxBytes: 100_000, maxObjectBytes: 100 })
    const writer = store.openWrite(head('k'))!
    assert.equal(writer.write(Buffer.alloc(60)), true)
    assert.equal(writer.write(Buffer.alloc(40)), true)
    assert.equal(writer.write(Buffer.alloc(1)), false)
    assert.equal(writer.write(Buffer.alloc(1)), false)
    await writer.end()
    assert.equal(store.lookup('k', []), undefined)
    assert.equal(store.stats().objects, 0)
  })

  test('a body of exactly maxObjectBytes is stored', async () => {
    const store = new MemoryStore({ maxBytes: 100_000, maxObjectBytes: 100 })
    await putObject(store, head('k'), Buffer.alloc(100))
    assert.equal(store.lookup('k', [])?.body.length, 100)
  })

  test('maxObjectBytes larger than maxBytes is capped at maxBytes', () => {
    const store = new MemoryStore({ maxBytes: 1000, maxObjectBytes: 5000 })
    assert.equal(store.openWrite(head('k'), 1001), undefined)
    const writer = store.openWrite(head('k'))!
    assert.equal(writer.write(Buffer.alloc(1000)), true)
    assert.equal(writer.write(Buffer.alloc(1)), false)
  })

  test('write() after end() is refused', async () => {
    const store = new MemoryStore({ maxBytes: 100_000, maxObjectBytes: 100 })
    const writer = store.openWrite(head('k'))!
    writer.write(Buffer.from('abc'))
    await writer.end()
    assert.equal(writer.write(Buffer.from('def')), false)
    assert.equal(store.lookup('k', [])?.body.toString(), 'abc')
  })
})

describe('MemoryStore: constructor', () => {
  test('maxBytes must be > 0', () => {
    for (const maxBytes of [0, -1, NaN]) {
      assert.throws(() => new MemoryStore({ maxBytes, maxObjectBytes: 10 }), {
        name: 'RangeError', message: `memory store: maxBytes must be > 0, got ${maxBytes}`,
      })
    }
  })

  test('maxObjectBytes must be > 0', () => {
    for (const maxObjectBytes of [0, -5, NaN]) {
      assert.throws(() => new MemoryStore({ maxBytes: 1000, maxObjectBytes }), {
        name: 'RangeError', message: `memory store: maxObjectBytes must be > 0, got ${maxObjectBytes}`,
      })
    }
  })

  test('a missing limit is refused too', () => {
    assert.throws(() => new MemoryStore({} as { maxBytes: number; maxObjectBytes: number }), RangeError)
  })

  test('valid limits give an empty store named memory', () => {
    const store = new MemoryStore({ maxBytes: 1, maxObjectBytes: 1 })
    assert.equal(store.name, 'memory')
    assert.deepEqual(store.stats(), { objects: 0, bytes: 0, maxBytes: 1, evictions: 0 })
  })
})
