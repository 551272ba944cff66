/**
 * @module store/memory-store
 * The embedded default store: a byte-bounded LRU in the process's memory. Objects are
 * kept as one contiguous Buffer each, so a hit is one write.
 */
import { varyMatches } from '../http-cache/vary.js'
import type { HeaderList } from '../http-cache/header-list.js'
import { StringPool } from './string-pool.js'
import { type CacheStore, type InvalidationMode, type ObjectHead, type StoreStats, type StoreWriter, type StoredObject, resourceOfKey } from './types.js'

/**
 * Bytes counted per object beyond its body and header fields: the object, its Cache-Control
 * and freshness, the Buffer around the body, its entries in the store's maps. With
 * MEMORY_FIELD_OVERHEAD, what bench/memory.mjs measures an object to hold in the heap after a
 * full GC (bench/README.md, "Memory"), so that `maxBytes` bounds memory, not only bodies.
 */
export const MEMORY_OBJECT_OVERHEAD = 1024
/** Bytes counted per header field beyond its name and value: the [name, value] pair, a string's header. */
export const MEMORY_FIELD_OVERHEAD = 80

export interface MemoryStoreOptions {
  maxBytes: number
  maxObjectBytes: number
  /** bound per partition (one user's entries): beyond it the partition's oldest go first */
  maxEntriesPerPartition?: number
  maxBytesPerPartition?: number
}

interface Partition {
  /** slot ids, oldest first */
  ids: Set<number>
  bytes: number
}

interface Slot {
  object: StoredObject
  bytes: number
  id: number
  /** the store's use counter when this slot last moved to the recent end of the LRU order */
  usedAt: number
}

export class MemoryStore implements CacheStore {
  readonly name = 'memory'
  private readonly maxBytes: number
  private readonly maxObjectBytes: number
  /** counts insertions and LRU refreshes (Slot.usedAt) */
  private useCounter = 0
  /** LRU order: the first slot is the least recently used. */
  private readonly lru = new Map<number, Slot>()
  /** primary key → slot ids of its variants, oldest first */
  private readonly variants = new Map<string, number[]>()
  private readonly partitions = new Map<string, Partition>()
  /** resource (host + path, see resourceOfKey) → primary keys stored for it */
  private readonly byResource = new Map<string, Members<string>>()
  /** surrogate key → slot ids of the objects carrying it */
  private readonly byTag = new Map<string, Members<number>>()
  /** header names and values, status texts and tags that objects repeat, kept once */
  private readonly pool = new StringPool()
  private readonly maxEntriesPerPartition: number
  private readonly maxBytesPerPartition: number
  private bytes = 0
  private evictions = 0
  private nextId = 0

  constructor(options: MemoryStoreOptions) {
    if (!(options.maxBytes > 0)) throw new RangeError(`memory store: maxBytes must be > 0, got ${options.maxBytes}`)
    if (!(options.maxObjectBytes > 0)) throw new RangeError(`memory store: maxObjectBytes must be > 0, got ${options.maxObjectBytes}`)
    this.maxBytes = options.maxBytes
    this.maxObjectBytes = Math.min(options.maxObjectBytes, options.maxBytes)
    this.maxEntriesPerPartition = options.maxEntriesPerPartition ?? Infinity
    this.maxBytesPerPartition = options.maxBytesPerPartition ?? Infinity
  }

  lookup(key: string, request: HeaderList): StoredObject | undefined {
    const ids = this.variants.get(key)
    if (ids === undefined) return undefined
    const now = Date.now()
    for (let i = ids.length - 1; i >= 0; i--) {
      const slot = this.lru.get(ids[i]!)
      if (slot === undefined) continue
      const { object } = slot
      if (object.deleteAt <= now) { this.remove(slot); continue }
      if (object.varyNames.length > 0 && !varyMatches(object.varyNames, object.varyValues, request)) continue
      // refresh its LRU position, unless it is among the most recent quarter already: a hot
      // object then costs no Map delete + set per hit, and nothing that recent is evicted before
      // the other three quarters (an approximate LRU, as Varnish's lru_interval)
      if (this.useCounter - slot.usedAt > this.lru.size >> 2) {
        slot.usedAt = ++this.useCounter
        this.lru.delete(slot.id)
        this.lru.set(slot.id, slot)
      }
      return object
    }
    return undefined
  }

  hasVariants(key: string): boolean {
    return this.variants.has(key)
  }

  openWrite(head: ObjectHead, expectedBytes?: number): StoreWriter | undefined {
    if (expectedBytes !== undefined && expectedBytes > this.maxObjectBytes) return undefined
    const chunks: Buffer[] = []
    let size = 0
    let isOpen = true
    return {
      write: (chunk: Buffer) => {
        if (!isOpen) return false
        size += chunk.length
        if (size > this.maxObjectBytes) { isOpen = false; chunks.length = 0; return false }
        chunks.push(chunk)
        return true
      },
      end: () => {
        if (!isOpen) return
        isOpen = false
        this.insert(storedObject(head, ownedBody(chunks, size), Date.now(), this.pool))
      },
      abort: () => { isOpen = false; chunks.length = 0 },
    }
  }

  update(object: StoredObject, head: Parameters<CacheStore['update']>[1]): void {
    const oldBytes = headerBytes(object.headers)
    const oldTags = object.tags
    // every field the head may carry exists on the object already (storedObject): no new hidden class
    Object.assign(object, head, head.tags && { tags: internTags(head.tags, this.pool) })
    object.statusText = this.pool.intern(object.statusText)
    internFields(object.headers, this.pool)
    const slot = this.slotOf(object)
    if (!slot) return
    if (object.tags !== oldTags) {
      // a 304 may bring new tag fields: the index follows what the object now carries
      for (const tag of oldTags) removeFrom(this.byTag, tag, slot.id)
      for (const tag of object.tags) addTo(this.byTag, tag, slot.id)
    }
    const delta = headerBytes(object.headers) - oldBytes
    slot.bytes += delta
    this.bytes += delta
    const part = object.partition === undefined ? undefined : this.partitions.get(object.partition)
    if (part) part.bytes += delta
    this.evict()
  }

  accountDerived(object: StoredObject, bytes: number): void {
    const slot = this.slotOf(object)
    if (!slot) return
    slot.bytes += bytes
    this.bytes += bytes
    const part = object.partition === undefined ? undefined : this.partitions.get(object.partition)
    if (part) part.bytes += bytes
    this.evict()
  }

  deletePartition(partition: string): number {
    const part = this.partitions.get(partition)
    if (!part) return 0
    let removed = 0
    for (const id of [...part.ids]) {
      const slot = this.lru.get(id)
      if (slot) { this.remove(slot); removed++ }
    }
    this.partitions.delete(partition)
    return removed
  }

  delete(key: string): number {
    const ids = this.variants.get(key)
    if (!ids) return 0
    let removed = 0
    for (const id of [...ids]) {
      const slot = this.lru.get(id)
      if (slot) { this.remove(slot); removed++ }
    }
    return removed
  }

  invalidateResource(resource: string, mode: InvalidationMode): number {
    let count = 0
    for (const key of membersOf(this.byResource, resource)) {
      for (const id of [...(this.variants.get(key) ?? [])]) {
        const slot = this.lru.get(id)
        if (slot && this.invalidateSlot(slot, mode)) count++
      }
    }
    return count
  }

  invalidateTag(tag: string, mode: InvalidationMode): number {
    let count = 0
    for (const id of membersOf(this.byTag, tag)) {
      const slot = this.lru.get(id)
      if (slot && this.invalidateSlot(slot, mode)) count++
    }
    return count
  }

  invalidateObject(object: StoredObject, mode: InvalidationMode): boolean {
    const slot = this.slotOf(object)
    return slot !== undefined && this.invalidateSlot(slot, mode)
  }

  /** The slot holding this very object, if it is still stored (among its key's few variants: no per-object map). */
  private slotOf(object: StoredObject): Slot | undefined {
    for (const id of this.variants.get(object.key) ?? []) {
      const slot = this.lru.get(id)
      if (slot?.object === object) return slot
    }
    return undefined
  }

  *scan(): Iterable<StoredObject> {
    // a snapshot of the slots: lookups reorder the LRU map while the sweeper walks it
    for (const slot of [...this.lru.values()]) {
      if (this.lru.get(slot.id) === slot) yield slot.object
    }
  }

  /** soft: stale from now on, kept for grace and revalidation; hard: gone. */
  private invalidateSlot(slot: Slot, mode: InvalidationMode): boolean {
    if (mode === 'hard') {
      slot.object.isPurged = true
      this.remove(slot)
      return true
    }
    slot.object.softPurgedAt ??= Date.now()
    return true
  }

  stats(): StoreStats {
    return { objects: this.lru.size, bytes: this.bytes, maxBytes: this.maxBytes, evictions: this.evictions }
  }

  async close(): Promise<void> {
    this.lru.clear()
    this.variants.clear()
    this.partitions.clear()
    this.byResource.clear()
    this.byTag.clear()
    this.bytes = 0
  }

  private insert(object: StoredObject): void {
    const bytes = object.body.length + headerBytes(object.headers) + MEMORY_OBJECT_OVERHEAD
    if (bytes > this.maxBytes) return
    // a new response replaces the stored one for the same secondary key (RFC 9111 §4.1, §3)
    const ids = this.variants.get(object.key)
    if (ids) {
      for (const id of [...ids]) {
        const slot = this.lru.get(id)
        if (slot && sameVariant(slot.object, object)) this.remove(slot)
      }
    }
    const id = this.nextId++
    const slot: Slot = { object, bytes, id, usedAt: ++this.useCounter }
    this.lru.set(id, slot)
    const list = this.variants.get(object.key)
    if (list) list.push(id)
    else {
      this.variants.set(object.key, [id])
      addTo(this.byResource, resourceOfKey(object.key), object.key)
    }
    for (const tag of object.tags) addTo(this.byTag, tag, id)
    this.bytes += bytes
    if (object.partition !== undefined) this.addToPartition(object.partition, slot)
    this.evict()
  }

  /** One user's entries are bounded on their own, so one busy user cannot evict the site. */
  private addToPartition(partition: string, slot: Slot): void {
    let part = this.partitions.get(partition)
    if (!part) { part = { ids: new Set(), bytes: 0 }; this.partitions.set(partition, part) }
    part.ids.add(slot.id)
    part.bytes += slot.bytes
    while (part.ids.size > this.maxEntriesPerPartition || (part.bytes > this.maxBytesPerPartition && part.ids.size > 0)) {
      const oldest = this.lru.get(part.ids.values().next().value as number)
      if (!oldest) { part.ids.delete(part.ids.values().next().value as number); continue }
      this.remove(oldest)
      this.evictions++
    }
  }

  private evict(): void {
    while (this.bytes > this.maxBytes) {
      const oldest = this.lru.values().next().value as Slot | undefined
      if (!oldest) break
      this.remove(oldest)
      this.evictions++
    }
  }

  private remove(slot: Slot): void {
    if (!this.lru.delete(slot.id)) return
    this.bytes -= slot.bytes
    const partition = slot.object.partition
    if (partition !== undefined) {
      const part = this.partitions.get(partition)
      if (part?.ids.delete(slot.id)) {
        part.bytes -= slot.bytes
        if (part.ids.size === 0) this.partitions.delete(partition)
      }
    }
    for (const tag of slot.object.tags) removeFrom(this.byTag, tag, slot.id)
    const ids = this.variants.get(slot.object.key)
    if (ids) {
      const at = ids.indexOf(slot.id)
      if (at >= 0) ids.splice(at, 1)
      if (ids.length === 0) {
        this.variants.delete(slot.object.key)
        removeFrom(this.byResource, resourceOfKey(slot.object.key), slot.object.key)
      }
    }
  }
}

/**
 * The members of one index entry: the member itself while it is alone (every resource with one
 * variant, every per-object tag), a Set from the second on. A Set of one costs ~300 bytes.
 */
type Members<T> = T | Set<T>

function addTo<T>(index: Map<string, Members<T>>, name: string, member: T): void {
  const found = index.get(name)
  if (found === undefined) index.set(name, member)
  else if (found instanceof Set) found.add(member)
  else if (found !== member) index.set(name, new Set([found, member]))
}

function removeFrom<T>(index: Map<string, Members<T>>, name: string, member: T): void {
  const found = index.get(name)
  if (found instanceof Set) {
    if (found.delete(member) && found.size === 1) index.set(name, found.values().next().value as T)
  } else if (found === member) index.delete(name)
}

/** A copy: the caller may change the index while it walks the members. */
function membersOf<T>(index: Map<string, Members<T>>, name: string): T[] {
  const found = index.get(name)
  return found === undefined ? [] : found instanceof Set ? [...found] : [found]
}

const NONE: readonly never[] = Object.freeze([])

/**
 * The stored object, every field written in one order: all objects share one hidden class
 * (a `{ ...head }` spread gave each its own, ~500 bytes), and later writes (update, purges,
 * the ban sweeper) find their field already there.
 */
function storedObject(head: ObjectHead, body: Buffer, storedAt: number, pool: StringPool): StoredObject {
  return {
    key: head.key,
    status: head.status,
    statusText: pool.intern(head.statusText),
    headers: internFields(head.headers, pool),
    varyNames: head.varyNames.length === 0 ? NONE : head.varyNames,
    varyValues: head.varyValues.length === 0 ? NONE : head.varyValues,
    cc: head.cc,
    isTargeted: head.isTargeted,
    freshness: head.freshness,
    deleteAt: head.deleteAt,
    graceMs: head.graceMs,
    tags: internTags(head.tags, pool),
    partition: head.partition,
    softPurgedAt: head.softPurgedAt,
    isPurged: head.isPurged,
    invalidationSeq: head.invalidationSeq,
    esi: head.esi,
    prepared: undefined,
    body,
    storedAt,
  }
}

/**
 * The fields' names and values replaced in place by their pooled copies (equal strings: the
 * list may be shared with the clients the response is streaming to).
 */
function internFields(headers: HeaderList, pool: StringPool): HeaderList {
  for (const field of headers) {
    field[0] = pool.intern(field[0])
    field[1] = pool.intern(field[1])
  }
  return headers
}

function internTags(tags: readonly string[], pool: StringPool): readonly string[] {
  return tags.length === 0 ? NONE : tags.map((tag) => pool.intern(tag))
}

/**
 * The body in a buffer of its own, exactly its size. A chunk as it arrived is a view on the
 * socket read it came in (the response head and more): keeping it would keep all of that.
 */
function ownedBody(chunks: readonly Buffer[], size: number): Buffer {
  const first = chunks[0]
  if (chunks.length === 1 && first!.byteOffset === 0 && first!.buffer.byteLength === size) return first!
  const body = Buffer.allocUnsafeSlow(size)
  let at = 0
  for (const chunk of chunks) { body.set(chunk, at); at += chunk.length }
  return body
}

function headerBytes(headers: HeaderList): number {
  let n = 0
  for (const [k, v] of headers) n += k.length + v.length + MEMORY_FIELD_OVERHEAD
  return n
}

function sameVariant(a: StoredObject, b: StoredObject): boolean {
  if (a.varyNames.length !== b.varyNames.length) return false
  for (let i = 0; i < a.varyNames.length; i++) {
    if (a.varyNames[i] !== b.varyNames[i] || a.varyValues[i] !== b.varyValues[i]) return false
  }
  return true
}
