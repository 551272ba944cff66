/**
 * @module store/types
 * The `CacheStore` contract: where stored responses live. A store keeps bytes and picks the
 * variant that matches a request's selecting fields (via http-cache/vary, so every store
 * matches the same way); it never judges freshness. See docs/adr/0002-store-contract.md.
 */
import type { CacheControl } from '../http-cache/cache-control.js'
import type { Freshness } from '../http-cache/freshness.js'
import type { HeaderList } from '../http-cache/header-list.js'
import type { PreparedObject } from '../fsm/deliver.js'

/** A complete stored response: one variant of one primary key. */
export interface StoredObject {
  /** primary cache key (host + path + query, after normalisation) */
  readonly key: string
  status: number
  statusText: string
  /** stored fields: hop-by-hop fields removed (RFC 9111 §3.1) */
  headers: HeaderList
  /** selecting field names from Vary (RFC 9111 §4.1), lower-case; empty when none */
  readonly varyNames: readonly string[]
  /** the normalised values of those fields in the request that caused it to be stored */
  readonly varyValues: ReadonlyArray<string | null>
  /** the effective caching directives (CDN-Cache-Control when valid, else Cache-Control) */
  cc: CacheControl
  isTargeted: boolean
  freshness: Freshness
  /** the store may drop the object after this instant (epoch ms) */
  deleteAt: number
  /** a configured stale-while-revalidate window (ms), replacing the response's own */
  graceMs?: number
  /** surrogate keys, for purging by tag */
  readonly tags: readonly string[]
  /** one user's partition (the keyed hash of a perUser rule); bounded in entries and bytes */
  readonly partition?: string
  /** set by a soft purge: the object is stale from this instant (epoch ms), still usable within grace */
  softPurgedAt?: number
  /** set by a hard purge: a request already holding the object must not serve it, not even as stale */
  isPurged?: boolean
  /**
   * The invalidation sequence number (invalidate/invalidator.ts) this object has been checked
   * up to: bans with a higher number may still apply to it. Starts at the number current when
   * its fetch began, so a ban issued while the response was on its way is not missed.
   */
  invalidationSeq?: number
  /**
   * Set when the origin asked for ESI processing (docs/adr/0007-esi-delivery.md): `body` then
   * holds the page parsed once, as an encoded ESI document (esi/codec), not the bytes the
   * origin sent. Delivery replays it; it is never sent as is.
   */
  readonly esi?: boolean
  readonly body: Buffer
  readonly storedAt: number
  /**
   * Derived by delivery the first time the object is hit and reused by every hit after
   * (fsm/deliver.ts): its head serialised once. Never persisted by a shared store; each
   * process derives its own.
   */
  prepared?: PreparedObject
}

/** A hard invalidation removes; a soft one marks stale (served within grace, revalidated). */
export type InvalidationMode = 'hard' | 'soft'

/**
 * The resource part of a primary key: host and path with query, without the scheme and without
 * the key parts after the first line (per-user and configured Vary parts). Purging a URL
 * invalidates every key with this resource: both schemes, every user, every variant.
 */
export function resourceOfKey(key: string): string {
  const end = key.indexOf('\n')
  const url = end < 0 ? key : key.slice(0, end)
  const start = url.indexOf('://')
  return start < 0 ? url : url.slice(start + 3)
}

/** Metadata known when a write is opened: everything but the body. */
export type ObjectHead = Omit<StoredObject, 'body' | 'storedAt'>

/** A body being written into a store while it streams to clients. */
export interface StoreWriter {
  /** Appends a chunk; returns false when the object grew past the store's limit (the write is then aborted). */
  write(chunk: Buffer): boolean
  /** Commits the object: it becomes visible to lookups only now, and only if whole. */
  end(): void | Promise<void>
  /** Drops everything written so far; nothing becomes visible. */
  abort(): void
}

export interface StoreStats {
  objects: number
  bytes: number
  maxBytes: number
  evictions: number
}

export interface CacheStore {
  readonly name: string
  /**
   * The newest variant of `key` whose selecting fields match `request`, or undefined.
   * Synchronous for in-memory stores so that a hit costs no microtask.
   */
  lookup(key: string, request: HeaderList): StoredObject | undefined | Promise<StoredObject | undefined>
  /**
   * Optional: whether any variant of `key` is stored, so that a lookup that found none for
   * this request can say `fwd=vary-miss` rather than `uri-miss` (RFC 9211 §2.2).
   */
  hasVariants?(key: string): boolean
  /** Opens a write for a new object; undefined when the store declines (e.g. too large). */
  openWrite(head: ObjectHead, expectedBytes?: number): StoreWriter | undefined
  /** Replaces the metadata of a stored object in place (a 304 or HEAD update, RFC 9111 §4.3.4). */
  update(object: StoredObject, head: Pick<StoredObject, 'headers' | 'cc' | 'isTargeted' | 'freshness' | 'deleteAt' | 'status' | 'statusText'> & { graceMs?: number; softPurgedAt?: undefined; tags?: readonly string[] }): void | Promise<void>
  /**
   * Optional, for stores that hold objects in this process: the object now holds `bytes` more
   * (or fewer, when negative) that delivery derived from it (its prepared head, fsm/deliver.ts),
   * counted against the store's bounds as its own bytes are.
   */
  accountDerived?(object: StoredObject, bytes: number): void
  /** Optional: removes every object of one partition (one user's entries); returns the count. */
  deletePartition?(partition: string): number | Promise<number>
  /** Removes every variant of `key`; returns how many were removed. */
  delete(key: string): number | Promise<number>
  /**
   * Invalidates every object whose key has this resource (see `resourceOfKey`): all variants,
   * schemes and partitions. Indexed: the cost does not grow with the store's size.
   */
  invalidateResource(resource: string, mode: InvalidationMode): number | Promise<number>
  /** Invalidates every object carrying this surrogate key (tag); indexed, no scan. */
  invalidateTag(tag: string, mode: InvalidationMode): number | Promise<number>
  /** Invalidates one object found by `lookup` or `scan`; false when it is no longer stored. */
  invalidateObject(object: StoredObject, mode: InvalidationMode): boolean | Promise<boolean>
  /**
   * Every stored object, once each, in no set order; safe while the store changes (objects
   * added during the scan may be missed, removed ones are skipped). Used by the ban sweeper.
   */
  scan(): Iterable<StoredObject> | AsyncIterable<StoredObject>
  stats(): StoreStats
  close(): Promise<void>
}
