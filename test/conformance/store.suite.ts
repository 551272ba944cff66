/**
 * The `CacheStore` conformance suite (src/store/types.ts). Every store — memory now, Redis and
 * memcached later — registers it from its own test file:
 *
 *   runStoreConformance('memory', () => new MemoryStore({ maxBytes: 1 << 20, maxObjectBytes: 1 << 18 }))
 *
 * Each test opens a fresh store from `factory` and closes it at the end. The factory should
 * build a small store (a few MB at most): the "too large" tests write `stats().maxBytes + 1`
 * bytes. A store that cannot meet one contract point yet may skip that test by its exact
 * name with a reason; an unknown name in `skip` is an error, so typos cannot hide tests.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseCacheControl } from '../../src/http-cache/cache-control.js'
import { computeFreshness } from '../../src/http-cache/freshness.js'
import { type HeaderList, getAll } from '../../src/http-cache/header-list.js'
import { formatHttpDate } from '../../src/http-cache/http-date.js'
import { parseVary, selectingValues } from '../../src/http-cache/vary.js'
import { type CacheStore, type ObjectHead, resourceOfKey } from '../../src/store/types.js'

export interface ConformanceOptions {
  skip?: Array<{ test: string; reason: string }>
}

export interface HeadOptions {
  key: string
  status?: number
  statusText?: string
  /** response fields; default `cache-control: max-age=60` and a Date of `now` */
  headers?: HeaderList
  /** the request the response answers: supplies the values of the fields named by Vary */
  request?: HeaderList
  /** when the response was received (epoch ms); default Date.now() */
  now?: number
  /** default now + 1 hour */
  deleteAt?: number
}

/**
 * Builds an ObjectHead the way the proxy does: Cache-Control parsed, freshness computed,
 * selecting fields taken from Vary and their values from the request.
 */
export function makeHead(options: HeadOptions): ObjectHead {
  const now = options.now ?? Date.now()
  const headers: HeaderList = options.headers
    ? options.headers.map(([k, v]) => [k, v])
    : [['cache-control', 'max-age=60'], ['date', formatHttpDate(now)]]
  const vary = parseVary(headers)
  if (vary === '*') throw new Error('makeHead: Vary: * is never stored')
  const status = options.status ?? 200
  const cc = parseCacheControl(getAll(headers, 'cache-control'))
  return {
    key: options.key,
    status,
    statusText: options.statusText ?? 'OK',
    headers,
    varyNames: vary,
    varyValues: selectingValues(options.request ?? [], vary),
    tags: [],
    cc,
    isTargeted: false,
    freshness: computeFreshness(status, headers, cc, false, now, now),
    deleteAt: options.deleteAt ?? now + 3600_000,
  }
}

/** Response fields for a variant: `Vary` plus a max-age, a Date and an identifying field. */
export function varyHeaders(vary: string, id: string, now = Date.now()): HeaderList {
  return [['cache-control', 'max-age=60'], ['date', formatHttpDate(now)], ['vary', vary], ['x-variant', id]]
}

/** Writes a whole object (in the given chunks) and commits it; fails if the store declines. */
export async function putObject(store: CacheStore, head: ObjectHead, body: string | Buffer | Buffer[]): Promise<void> {
  const chunks = Array.isArray(body) ? body : [typeof body === 'string' ? Buffer.from(body) : body]
  const size = chunks.reduce((n, c) => n + c.length, 0)
  const writer = store.openWrite(head, size)
  assert.ok(writer, `the store declined a ${size}-byte object for ${head.key}`)
  for (const chunk of chunks) assert.equal(writer.write(chunk), true, `the store refused a chunk of ${head.key}`)
  await writer.end()
}

/** The body of the variant lookup returns, as text, or undefined on a miss. */
async function lookupBody(store: CacheStore, key: string, request: HeaderList = []): Promise<string | undefined> {
  const object = await store.lookup(key, request)
  return object?.body.toString()
}

type Case = { name: string; fn: (store: CacheStore) => Promise<void> }

const CASES: Case[] = [
  {
    name: 'a committed object is returned by lookup with its metadata and body',
    fn: async (store) => {
      const now = Date.now()
      const head = makeHead({
        key: 'example.com/page?x=1', status: 203, statusText: 'Non-Authoritative Information', now, deleteAt: now + 120_000,
        headers: [['cache-control', 'max-age=60, must-revalidate'], ['date', formatHttpDate(now - 2000)], ['etag', '"v1"'], ['x-a', '1'], ['x-a', '2']],
      })
      const before = Date.now()
      await putObject(store, head, 'hello world')
      const after = Date.now()
      const object = await store.lookup('example.com/page?x=1', [])
      assert.ok(object, 'expected a hit')
      assert.equal(object.key, head.key)
      assert.equal(object.status, 203)
      assert.equal(object.statusText, 'Non-Authoritative Information')
      assert.deepEqual(object.headers, head.headers)
      assert.deepEqual(object.varyNames, [])
      assert.deepEqual(object.varyValues, [])
      assert.deepEqual(object.cc, head.cc)
      assert.equal(object.isTargeted, false)
      assert.deepEqual(object.freshness, head.freshness)
      assert.equal(object.deleteAt, now + 120_000)
      assert.ok(Buffer.isBuffer(object.body), 'body must be a Buffer')
      assert.equal(object.body.toString(), 'hello world')
      assert.ok(object.storedAt >= before - 1 && object.storedAt <= after + 1, `storedAt ${object.storedAt} not in [${before}, ${after}]`)
    },
  },
  {
    name: 'a write becomes visible only after end()',
    fn: async (store) => {
      const writer = store.openWrite(makeHead({ key: 'k' }), 10)
      assert.ok(writer)
      assert.equal(writer.write(Buffer.from('01234')), true)
      assert.equal(await store.lookup('k', []), undefined, 'visible before any end()')
      assert.equal(writer.write(Buffer.from('56789')), true)
      assert.equal(await store.lookup('k', []), undefined, 'visible before end()')
      assert.equal(store.stats().objects, 0)
      await writer.end()
      assert.equal(await lookupBody(store, 'k'), '0123456789')
      assert.equal(store.stats().objects, 1)
    },
  },
  {
    name: 'a write opened without expectedBytes is stored too',
    fn: async (store) => {
      const writer = store.openWrite(makeHead({ key: 'k' }))
      assert.ok(writer)
      assert.equal(writer.write(Buffer.from('abc')), true)
      await writer.end()
      assert.equal(await lookupBody(store, 'k'), 'abc')
    },
  },
  {
    name: 'chunks are stored in order as one body, byte for byte',
    fn: async (store) => {
      const binary = Buffer.from([0, 255, 1, 254, 0x0d, 0x0a, 0x80])
      await putObject(store, makeHead({ key: 'k' }), [Buffer.from('ab'), binary, Buffer.alloc(0), Buffer.from('z')])
      const object = await store.lookup('k', [])
      assert.ok(object)
      assert.deepEqual([...object.body], [...Buffer.concat([Buffer.from('ab'), binary, Buffer.from('z')])])
    },
  },
  {
    name: 'an empty body can be stored',
    fn: async (store) => {
      await putObject(store, makeHead({ key: 'empty', status: 204, statusText: 'No Content' }), [])
      const object = await store.lookup('empty', [])
      assert.ok(object)
      assert.equal(object.status, 204)
      assert.equal(object.body.length, 0)
    },
  },
  {
    name: 'abort() leaves nothing, and end() after abort() does not commit',
    fn: async (store) => {
      const writer = store.openWrite(makeHead({ key: 'k' }), 6)
      assert.ok(writer)
      writer.write(Buffer.from('abc'))
      writer.abort()
      assert.equal(await store.lookup('k', []), undefined)
      await writer.end()
      assert.equal(await store.lookup('k', []), undefined)
      assert.equal(store.stats().objects, 0)
      assert.equal(store.stats().bytes, 0)
    },
  },
  {
    name: 'an aborted write does not disturb the object already stored for the same key',
    fn: async (store) => {
      await putObject(store, makeHead({ key: 'k' }), 'old')
      const writer = store.openWrite(makeHead({ key: 'k' }), 3)
      assert.ok(writer)
      writer.write(Buffer.from('new'))
      writer.abort()
      assert.equal(await lookupBody(store, 'k'), 'old')
      assert.equal(store.stats().objects, 1)
    },
  },
  {
    name: 'lookup of an unknown key misses, and keys are matched exactly',
    fn: async (store) => {
      assert.equal(await store.lookup('nothing', []), undefined)
      await putObject(store, makeHead({ key: 'example.com/a' }), 'a')
      await putObject(store, makeHead({ key: 'example.com/ab' }), 'ab')
      assert.equal(await lookupBody(store, 'example.com/a'), 'a')
      assert.equal(await lookupBody(store, 'example.com/ab'), 'ab')
      assert.equal(await store.lookup('example.com/', []), undefined)
      assert.equal(await store.lookup('example.com/A', []), undefined)
      assert.equal(await store.lookup('example.com/abc', []), undefined)
    },
  },
  {
    name: 'lookup picks the variant whose selecting fields match the request',
    fn: async (store) => {
      await putObject(store, makeHead({ key: 'k', headers: varyHeaders('Accept-Encoding', 'gzip'), request: [['accept-encoding', 'gzip']] }), 'gzip body')
      await putObject(store, makeHead({ key: 'k', headers: varyHeaders('Accept-Encoding', 'br'), request: [['accept-encoding', 'br']] }), 'br body')
      assert.equal(await lookupBody(store, 'k', [['accept-encoding', 'gzip']]), 'gzip body')
      assert.equal(await lookupBody(store, 'k', [['accept-encoding', 'br']]), 'br body')
      assert.equal(await lookupBody(store, 'k', [['accept-encoding', 'gzip'], ['user-agent', 'x']]), 'gzip body')
      assert.equal(await store.lookup('k', [['accept-encoding', 'deflate']]), undefined)
      assert.equal(await store.lookup('k', []), undefined)
      const object = await store.lookup('k', [['accept-encoding', 'br']])
      assert.deepEqual(object?.varyNames, ['accept-encoding'])
      assert.deepEqual(object?.varyValues, ['br'])
    },
  },
  {
    name: 'selecting fields are compared after normalisation',
    fn: async (store) => {
      await putObject(store, makeHead({ key: 'k', headers: varyHeaders('accept-encoding', 'a'), request: [['accept-encoding', 'gzip, br']] }), 'gz-br')
      assert.equal(await lookupBody(store, 'k', [['accept-encoding', 'gzip,br']]), 'gz-br')
      assert.equal(await lookupBody(store, 'k', [['accept-encoding', 'gzip'], ['accept-encoding', 'br']]), 'gz-br')
      assert.equal(await store.lookup('k', [['accept-encoding', 'br, gzip']]), undefined)
    },
  },
  {
    name: 'an absent selecting field only matches a request where it is absent too',
    fn: async (store) => {
      await putObject(store, makeHead({ key: 'k', headers: varyHeaders('Cookie', 'anon'), request: [] }), 'anonymous')
      assert.equal(await lookupBody(store, 'k', []), 'anonymous')
      assert.equal(await store.lookup('k', [['cookie', 'sid=1']]), undefined)
      assert.equal(await store.lookup('k', [['cookie', '']]), undefined)
    },
  },
  {
    name: 'lookup returns the newest object when several variants match',
    fn: async (store) => {
      const t = Date.now()
      // three variants with different selecting fields; a request can match several
      await putObject(store, makeHead({ key: 'k', now: t - 2000, headers: [['cache-control', 'max-age=60'], ['date', formatHttpDate(t - 2000)]] }), 'no vary')
      await putObject(store, makeHead({ key: 'k', now: t - 1000, headers: varyHeaders('Accept-Encoding', 'ae', t - 1000), request: [['accept-encoding', 'gzip']] }), 'by encoding')
      assert.equal(await lookupBody(store, 'k', [['accept-encoding', 'gzip']]), 'by encoding')
      assert.equal(await lookupBody(store, 'k', [['accept-encoding', 'br']]), 'no vary')
      await putObject(store, makeHead({ key: 'k', now: t, headers: varyHeaders('Accept-Language', 'al', t), request: [['accept-language', 'en']] }), 'by language')
      assert.equal(await lookupBody(store, 'k', [['accept-encoding', 'gzip'], ['accept-language', 'en']]), 'by language')
      assert.equal(await lookupBody(store, 'k', [['accept-encoding', 'gzip'], ['accept-language', 'fr']]), 'by encoding')
      assert.equal(await lookupBody(store, 'k', [['accept-language', 'fr']]), 'no vary')
      assert.equal(store.stats().objects, 3)
    },
  },
  {
    name: 'a new object for the same key and secondary key replaces the old one',
    fn: async (store) => {
      await putObject(store, makeHead({ key: 'plain' }), 'first')
      await putObject(store, makeHead({ key: 'plain' }), 'second')
      assert.equal(await lookupBody(store, 'plain'), 'second')
      const gzip: HeaderList = [['accept-encoding', 'gzip']]
      await putObject(store, makeHead({ key: 'varied', headers: varyHeaders('Accept-Encoding', '1'), request: gzip }), 'gzip 1')
      await putObject(store, makeHead({ key: 'varied', headers: varyHeaders('Accept-Encoding', '2'), request: gzip }), 'gzip 2')
      const object = await store.lookup('varied', gzip)
      assert.equal(object?.body.toString(), 'gzip 2')
      assert.deepEqual(getAll(object!.headers, 'x-variant'), ['2'])
      assert.equal(store.stats().objects, 2, 'the replaced objects must be gone, not only hidden')
      assert.equal(await store.delete('varied'), 1)
      assert.equal(await store.delete('plain'), 1)
    },
  },
  {
    name: 'the object committed last wins when two writes for the same variant overlap',
    fn: async (store) => {
      const early = store.openWrite(makeHead({ key: 'k' }), 5)
      const late = store.openWrite(makeHead({ key: 'k' }), 5)
      assert.ok(early && late)
      early.write(Buffer.from('early'))
      late.write(Buffer.from('late!'))
      await late.end()
      assert.equal(await lookupBody(store, 'k'), 'late!')
      await early.end()
      assert.equal(await lookupBody(store, 'k'), 'early')
      assert.equal(store.stats().objects, 1)
    },
  },
  {
    name: 'objects with different Vary values coexist',
    fn: async (store) => {
      const languages = ['en', 'fr', 'de', 'nl']
      for (const lang of languages) {
        await putObject(store, makeHead({ key: 'k', headers: varyHeaders('Accept-Language', lang), request: [['accept-language', lang]] }), `page in ${lang}`)
      }
      assert.equal(store.stats().objects, languages.length)
      for (const lang of languages) assert.equal(await lookupBody(store, 'k', [['accept-language', lang]]), `page in ${lang}`)
    },
  },
  {
    name: 'delete(key) removes every variant, returns the count and leaves other keys alone',
    fn: async (store) => {
      for (const enc of ['gzip', 'br', 'zstd']) {
        await putObject(store, makeHead({ key: 'k', headers: varyHeaders('Accept-Encoding', enc), request: [['accept-encoding', enc]] }), enc)
      }
      await putObject(store, makeHead({ key: 'other' }), 'other')
      await putObject(store, makeHead({ key: 'k2' }), 'k2')
      assert.equal(await store.delete('k'), 3)
      for (const enc of ['gzip', 'br', 'zstd']) assert.equal(await store.lookup('k', [['accept-encoding', enc]]), undefined, enc)
      assert.equal(await lookupBody(store, 'other'), 'other')
      assert.equal(await lookupBody(store, 'k2'), 'k2')
      assert.equal(store.stats().objects, 2)
      assert.equal(await store.delete('k'), 0, 'a second delete finds nothing')
      assert.equal(await store.delete('never-stored'), 0)
    },
  },
  {
    name: 'a key can be stored again after delete',
    fn: async (store) => {
      await putObject(store, makeHead({ key: 'k' }), 'one')
      assert.equal(await store.delete('k'), 1)
      await putObject(store, makeHead({ key: 'k' }), 'two')
      assert.equal(await lookupBody(store, 'k'), 'two')
      assert.equal(store.stats().objects, 1)
    },
  },
  {
    name: 'an object whose deleteAt has passed is not returned',
    fn: async (store) => {
      const now = Date.now()
      // the store may decline such a write or store it; either way lookup must not return it
      const writer = store.openWrite(makeHead({ key: 'gone', now, deleteAt: now - 1 }), 4)
      if (writer) { writer.write(Buffer.from('gone')); await writer.end() }
      assert.equal(await store.lookup('gone', []), undefined)
      await putObject(store, makeHead({ key: 'kept', now, deleteAt: now + 60_000 }), 'kept')
      assert.equal(await lookupBody(store, 'kept'), 'kept')
    },
  },
  {
    name: 'an object is no longer returned once its deleteAt passes',
    fn: async (store) => {
      const now = Date.now()
      await putObject(store, makeHead({ key: 'short', now, deleteAt: now + 150 }), 'short-lived')
      assert.equal(await lookupBody(store, 'short'), 'short-lived')
      await sleep(250)
      assert.equal(await store.lookup('short', []), undefined)
    },
  },
  {
    name: 'an expired variant does not hide an older variant that still matches',
    fn: async (store) => {
      const now = Date.now()
      await putObject(store, makeHead({ key: 'k', now, deleteAt: now + 60_000 }), 'long-lived')
      await putObject(store, makeHead({ key: 'k', now, headers: varyHeaders('Accept', 'a', now), request: [['accept', 'text/html']], deleteAt: now + 150 }), 'short-lived')
      assert.equal(await lookupBody(store, 'k', [['accept', 'text/html']]), 'short-lived')
      await sleep(250)
      assert.equal(await lookupBody(store, 'k', [['accept', 'text/html']]), 'long-lived')
    },
  },
  {
    name: 'update() replaces headers, status, freshness and deleteAt in place',
    fn: async (store) => {
      const t0 = Date.now() - 10_000
      const head = makeHead({ key: 'k', now: t0, headers: [['cache-control', 'max-age=5'], ['date', formatHttpDate(t0)], ['etag', '"v1"'], ['x-v', '1']] })
      await putObject(store, head, 'body stays')
      const stored = await store.lookup('k', [])
      assert.ok(stored)
      const storedAt = stored.storedAt
      const t1 = Date.now()
      const newHeaders: HeaderList = [['cache-control', 'max-age=300, must-revalidate'], ['date', formatHttpDate(t1)], ['etag', '"v1"'], ['x-v', '2'], ['x-extra', 'yes']]
      const cc = parseCacheControl(getAll(newHeaders, 'cache-control'))
      const freshness = computeFreshness(200, newHeaders, cc, false, t1, t1)
      await store.update(stored, { headers: newHeaders, cc, isTargeted: false, freshness, deleteAt: t1 + 7200_000, status: 200, statusText: 'OK' })
      const updated = await store.lookup('k', [])
      assert.ok(updated)
      assert.deepEqual(updated.headers, newHeaders)
      assert.deepEqual(updated.cc, cc)
      assert.equal(updated.cc.maxAge, 300)
      assert.deepEqual(updated.freshness, freshness)
      assert.equal(updated.freshness.lifetimeMs, 300_000)
      assert.equal(updated.deleteAt, t1 + 7200_000)
      assert.equal(updated.status, 200)
      assert.equal(updated.body.toString(), 'body stays')
      assert.equal(updated.storedAt, storedAt)
      assert.equal(updated.key, 'k')
      assert.equal(store.stats().objects, 1)
    },
  },
  {
    name: 'update() of one variant leaves the others unchanged',
    fn: async (store) => {
      const gzip: HeaderList = [['accept-encoding', 'gzip']]
      const br: HeaderList = [['accept-encoding', 'br']]
      await putObject(store, makeHead({ key: 'k', headers: varyHeaders('Accept-Encoding', 'gzip'), request: gzip }), 'gzip')
      await putObject(store, makeHead({ key: 'k', headers: varyHeaders('Accept-Encoding', 'br'), request: br }), 'br')
      const target = await store.lookup('k', gzip)
      assert.ok(target)
      const headers: HeaderList = [...varyHeaders('Accept-Encoding', 'gzip-updated')]
      await store.update(target, { headers, cc: target.cc, isTargeted: false, freshness: target.freshness, deleteAt: target.deleteAt, status: 200, statusText: 'OK' })
      assert.deepEqual(getAll((await store.lookup('k', gzip))!.headers, 'x-variant'), ['gzip-updated'])
      const other = await store.lookup('k', br)
      assert.deepEqual(getAll(other!.headers, 'x-variant'), ['br'])
      assert.equal(other!.body.toString(), 'br')
      assert.equal(store.stats().objects, 2)
    },
  },
  {
    name: 'an update that moves deleteAt into the past makes the object unreachable',
    fn: async (store) => {
      await putObject(store, makeHead({ key: 'k' }), 'x')
      const stored = await store.lookup('k', [])
      assert.ok(stored)
      await store.update(stored, { headers: stored.headers, cc: stored.cc, isTargeted: false, freshness: stored.freshness, deleteAt: Date.now() - 1, status: 200, statusText: 'OK' })
      assert.equal(await store.lookup('k', []), undefined)
    },
  },
  {
    name: 'stats() counts objects and bytes',
    fn: async (store) => {
      const empty = store.stats()
      assert.equal(empty.objects, 0)
      assert.equal(empty.bytes, 0)
      assert.equal(empty.evictions, 0)
      assert.ok(Number.isFinite(empty.maxBytes) && empty.maxBytes > 0, `maxBytes ${empty.maxBytes}`)
      await putObject(store, makeHead({ key: 'a' }), Buffer.alloc(1000, 97))
      const one = store.stats()
      assert.equal(one.objects, 1)
      assert.ok(one.bytes >= 1000, `bytes ${one.bytes} must count the 1000-byte body`)
      await putObject(store, makeHead({ key: 'b' }), Buffer.alloc(3000, 98))
      const two = store.stats()
      assert.equal(two.objects, 2)
      assert.ok(two.bytes >= one.bytes + 3000, `bytes ${two.bytes} must grow by at least the 3000-byte body`)
      assert.equal(two.maxBytes, empty.maxBytes)
      await store.delete('b')
      assert.equal(store.stats().objects, 1)
      assert.equal(store.stats().bytes, one.bytes, 'deleting must give back exactly the bytes counted')
      await store.delete('a')
      assert.deepEqual({ objects: store.stats().objects, bytes: store.stats().bytes }, { objects: 0, bytes: 0 })
    },
  },
  {
    name: 'a replaced object no longer counts in stats()',
    fn: async (store) => {
      await putObject(store, makeHead({ key: 'k' }), Buffer.alloc(2000))
      const first = store.stats()
      await putObject(store, makeHead({ key: 'k' }), Buffer.alloc(2000))
      assert.deepEqual({ objects: store.stats().objects, bytes: store.stats().bytes }, { objects: 1, bytes: first.bytes })
    },
  },
  {
    name: 'a write declared larger than the store can hold is declined and nothing is stored',
    fn: async (store) => {
      const tooLarge = store.stats().maxBytes + 1
      const writer = store.openWrite(makeHead({ key: 'big' }), tooLarge)
      if (writer) {
        // the store may accept the open, but then must refuse the bytes
        assert.equal(streamUntilRefused(writer, tooLarge), true, 'write() never returned false')
        await writer.end()
      }
      assert.equal(await store.lookup('big', []), undefined)
      assert.equal(store.stats().objects, 0)
      assert.equal(store.stats().bytes, 0)
    },
  },
  {
    name: 'a streamed write that grows past the object limit is refused and nothing is stored',
    fn: async (store) => {
      await putObject(store, makeHead({ key: 'small' }), 'small')
      const before = store.stats()
      const writer = store.openWrite(makeHead({ key: 'big' }))
      assert.ok(writer, 'a write without expectedBytes should be opened')
      assert.equal(streamUntilRefused(writer, store.stats().maxBytes + 1), true, 'write() never returned false')
      assert.equal(writer.write(Buffer.from('more')), false, 'a refused write stays refused')
      await writer.end()
      assert.equal(await store.lookup('big', []), undefined)
      assert.equal(await lookupBody(store, 'small'), 'small')
      assert.deepEqual({ objects: store.stats().objects, bytes: store.stats().bytes }, { objects: before.objects, bytes: before.bytes })
    },
  },
  {
    name: 'close() resolves',
    fn: async (store) => {
      await putObject(store, makeHead({ key: 'k' }), 'x')
      await store.close()
    },
  },
]

/** Writes up to `total` bytes in 64 KiB chunks; true as soon as write() refuses one. */
function streamUntilRefused(writer: { write(chunk: Buffer): boolean }, total: number): boolean {
  const chunk = Buffer.alloc(64 * 1024, 120)
  for (let written = 0; written < total; written += chunk.length) {
    const piece = total - written < chunk.length ? chunk.subarray(0, total - written) : chunk
    if (!writer.write(piece)) return true
  }
  return false
}

/** Invalidation (issue 4): indexed by resource and tag, hard removes, soft marks stale. */
const INVALIDATION_CASES: Case[] = [
  {
    name: 'invalidateResource removes every variant of every key of the resource (schemes, key parts) and nothing else',
    fn: async (store) => {
      const keys = ['http://shop.example/p?a=1', 'https://shop.example/p?a=1', 'http://shop.example/p?a=1\nuser=abc', 'http://shop.example/p?a=1\nuser=def']
      for (const key of keys) await putObject(store, makeHead({ key }), key)
      await putObject(store, makeHead({ key: 'http://shop.example/p', headers: varyHeaders('accept-language', 'en'), request: [['accept-language', 'en']] }), 'en')
      await putObject(store, makeHead({ key: 'http://shop.example/p', headers: varyHeaders('accept-language', 'fr'), request: [['accept-language', 'fr']] }), 'fr')
      const others = ['http://shop.example/p?a=2', 'http://shop.example/p/x', 'http://other.example/p?a=1']
      for (const key of others) await putObject(store, makeHead({ key }), key)
      assert.equal(resourceOfKey(keys[2]!), 'shop.example/p?a=1')
      assert.equal(await store.invalidateResource('shop.example/p?a=1', 'hard'), 4)
      for (const key of keys) assert.equal(await store.lookup(key, []), undefined, key)
      for (const key of others) assert.equal(await lookupBody(store, key), key)
      assert.equal(await store.invalidateResource('shop.example/p', 'hard'), 2, 'both Vary variants')
      assert.equal(await store.lookup('http://shop.example/p', [['accept-language', 'fr']]), undefined)
      assert.equal(store.stats().objects, others.length)
      assert.equal(await store.invalidateResource('shop.example/nothing', 'hard'), 0)
    },
  },
  {
    name: 'invalidateTag removes every object carrying the tag, across keys and variants, and nothing else',
    fn: async (store) => {
      await putObject(store, { ...makeHead({ key: 'http://a/1' }), tags: ['product-1', 'all'] }, '1')
      await putObject(store, { ...makeHead({ key: 'http://a/2' }), tags: ['product-2', 'all'] }, '2')
      await putObject(store, { ...makeHead({ key: 'http://a/1\nuser=x' }), tags: ['product-1'] }, '1x')
      await putObject(store, makeHead({ key: 'http://a/3' }), '3')
      assert.equal(await store.invalidateTag('product-1', 'hard'), 2)
      assert.equal(await store.lookup('http://a/1', []), undefined)
      assert.equal(await store.lookup('http://a/1\nuser=x', []), undefined)
      assert.equal(await lookupBody(store, 'http://a/2'), '2')
      assert.equal(await store.invalidateTag('all', 'hard'), 1)
      assert.equal(await store.invalidateTag('all', 'hard'), 0, 'a tag whose objects are gone matches nothing')
      assert.equal(await lookupBody(store, 'http://a/3'), '3')
    },
  },
  {
    name: 'a replaced object is purged by its new tags, not its old ones',
    fn: async (store) => {
      await putObject(store, { ...makeHead({ key: 'http://a/1' }), tags: ['old'] }, 'v1')
      await putObject(store, { ...makeHead({ key: 'http://a/1' }), tags: ['new'] }, 'v2')
      assert.equal(await store.invalidateTag('old', 'hard'), 0)
      assert.equal(await lookupBody(store, 'http://a/1'), 'v2')
      assert.equal(await store.invalidateTag('new', 'hard'), 1)
      assert.equal(store.stats().objects, 0)
    },
  },
  {
    name: 'a soft invalidation keeps the object but marks it stale from that instant',
    fn: async (store) => {
      await putObject(store, { ...makeHead({ key: 'http://a/1' }), tags: ['t'] }, 'body')
      const before = Date.now()
      assert.equal(await store.invalidateTag('t', 'soft'), 1)
      const object = await store.lookup('http://a/1', [])
      assert.ok(object, 'still stored after a soft purge')
      assert.ok(object.softPurgedAt !== undefined && object.softPurgedAt >= before && object.softPurgedAt <= Date.now())
      assert.equal(object.body.toString(), 'body')
      assert.equal(await store.invalidateResource('a/1', 'hard'), 1, 'a hard purge after a soft one removes it')
      assert.equal(await store.lookup('http://a/1', []), undefined)
    },
  },
  {
    name: 'update() after a soft purge makes the object fresh again (a 304 revalidation)',
    fn: async (store) => {
      await putObject(store, makeHead({ key: 'http://a/1' }), 'body')
      await store.invalidateResource('a/1', 'soft')
      const object = (await store.lookup('http://a/1', []))!
      assert.ok(object.softPurgedAt !== undefined)
      const { headers, cc, isTargeted, freshness, deleteAt, status, statusText } = object
      await store.update(object, { headers, cc, isTargeted, freshness, deleteAt, status, statusText, softPurgedAt: undefined })
      assert.equal((await store.lookup('http://a/1', []))!.softPurgedAt, undefined)
    },
  },
  {
    name: 'invalidateObject removes or marks exactly one object, and says false once it is gone',
    fn: async (store) => {
      await putObject(store, makeHead({ key: 'http://a/1' }), '1')
      await putObject(store, makeHead({ key: 'http://a/2' }), '2')
      const one = (await store.lookup('http://a/1', []))!
      const two = (await store.lookup('http://a/2', []))!
      assert.equal(await store.invalidateObject(two, 'soft'), true)
      assert.ok((await store.lookup('http://a/2', []))!.softPurgedAt !== undefined)
      assert.equal(await store.invalidateObject(one, 'hard'), true)
      assert.equal(await store.lookup('http://a/1', []), undefined)
      assert.equal(await store.invalidateObject(one, 'hard'), false)
      assert.equal(await lookupBody(store, 'http://a/2'), '2')
    },
  },
  {
    name: 'scan() yields every stored object once, and skips those removed during the scan',
    fn: async (store) => {
      for (let i = 0; i < 50; i++) await putObject(store, makeHead({ key: `http://a/${i}` }), String(i))
      const seen: string[] = []
      for await (const object of store.scan()) {
        seen.push(object.key)
        if (object.key === 'http://a/0') for (let i = 40; i < 50; i++) await store.delete(`http://a/${i}`)
        // a lookup reorders an LRU: it must not make the scan repeat or skip an object
        await store.lookup('http://a/1', [])
      }
      assert.equal(new Set(seen).size, seen.length, 'no object twice')
      for (let i = 0; i < 40; i++) assert.ok(seen.includes(`http://a/${i}`), `a/${i} missed`)
      const removedAt = seen.indexOf('http://a/0')
      const yieldedAfterRemoval = seen.slice(removedAt + 1).filter((key) => Number(key.split('/').pop()) >= 40)
      assert.deepEqual(yieldedAfterRemoval, [], 'objects removed during the scan were yielded after their removal')
    },
  },
]
CASES.push(...INVALIDATION_CASES)

/** The names of every conformance test, for `skip`. */
export const STORE_CONFORMANCE_TESTS: readonly string[] = CASES.map((c) => c.name)

/** Registers the CacheStore contract tests for one store. */
export function runStoreConformance(
  name: string,
  factory: () => CacheStore | Promise<CacheStore>,
  options: ConformanceOptions = {},
): void {
  const skips = new Map((options.skip ?? []).map((s) => [s.test, s.reason]))
  for (const skipped of skips.keys()) {
    if (!STORE_CONFORMANCE_TESTS.includes(skipped)) throw new Error(`runStoreConformance(${name}): no test named ${JSON.stringify(skipped)} to skip`)
  }
  describe(`${name} store: CacheStore conformance`, () => {
    for (const c of CASES) {
      const reason = skips.get(c.name)
      test(c.name, reason === undefined ? {} : { skip: reason }, async () => {
        const store = await factory()
        let isClosed = false
        try {
          await c.fn(store)
          isClosed = c.name === 'close() resolves'
        } finally {
          if (!isClosed) await store.close()
        }
      })
    }
  })
}

