/**
 * @module fetch/busy-entry
 * The in-flight response shared by coalesced requests (Varnish's busy object, undici's
 * deduplication handler). One origin response fans out to every subscriber as it arrives:
 *
 *   requested ──head──▶ streaming ──end──▶ finished
 *        │                  │
 *        └──────error───────┴────────────▶ failed
 *
 * A subscriber that joins late is replayed what arrived so far, but only while the body is
 * retained (shareable responses up to the object size limit); otherwise late joining is closed.
 */
import type { CacheControl } from '../http-cache/cache-control.js'
import type { Freshness } from '../http-cache/freshness.js'
import type { HeaderList } from '../http-cache/header-list.js'
import { LacquerError } from '../errors.js'
import type { CacheStatusDetail } from '../observe/cache-status.js'
import type { StoredObject } from '../store/types.js'
import type { EsiFeed } from '../esi/feed.js'

export type BusyState = 'requested' | 'streaming' | 'finished' | 'failed'

/** The head of a fetched response, as the client side needs it. */
export interface FetchedHead {
  status: number
  statusText: string
  /** what the origin answered (304 for a revalidation whose stored response is delivered) */
  originStatus: number
  /** fields to deliver (hop-by-hop removed) */
  headers: HeaderList
  /** the effective caching directives; not worked out for a pass (never stored nor shared) */
  cc?: CacheControl
  freshness: Freshness
  /** selecting fields of the response (Vary), or '*' */
  vary: readonly string[] | '*'
  varyValues: ReadonlyArray<string | null>
  /** may be handed to other clients (coalesced waiters) */
  isShareable: boolean
  /** is being written to the store */
  isStored: boolean
  detail?: CacheStatusDetail
  /** ms from sending the origin request to this head */
  originMs?: number
  /** surrogate keys of the response (for purges issued while it is in flight) */
  tags?: readonly string[]
  /** set when a revalidation answered 304: deliver this (updated) stored object instead of a body */
  revalidated?: StoredObject
  /** an ESI response: its parsed nodes as they come (esi/feed); the raw body is not streamed */
  esi?: EsiFeed
}

export interface BodySink {
  onData(chunk: Buffer): void
  onEnd(): void
  onError(err: LacquerError): void
}

export class BusyEntry {
  state: BusyState = 'requested'
  head?: FetchedHead
  error?: LacquerError
  /** requests that joined this entry instead of fetching themselves */
  waiters = 0
  /** the invalidation sequence number when the fetch began (see invalidate/invalidator.ts) */
  invalidationSeq = 0
  /** requests waiting for the head right now (bounded by coalescing.maxWaiters) */
  waitingForHead = 0
  private chunks: Buffer[] | null = []
  private retainedBytes = 0
  private shouldRetain = true
  private readonly sinks: BodySink[] = []
  private readonly headListeners: Array<(result: FetchedHead | LacquerError) => void> = []
  /** set by the fetch: stops reading the origin body */
  cancel?: () => void

  constructor(readonly key: string, private readonly maxRetainedBytes: number) {}

  /** Resolves with the head, or with the error that ended the fetch before it. */
  whenHead(): Promise<FetchedHead | LacquerError> {
    if (this.head) return Promise.resolve(this.head)
    if (this.error) return Promise.resolve(this.error)
    return new Promise((resolve) => this.headListeners.push(resolve))
  }

  /** Whether a new request may still join and be replayed the whole body. */
  canJoin(): boolean {
    if (this.state === 'failed') return false
    if (this.state === 'requested') return true
    return this.head !== undefined && this.head.isShareable && this.chunks !== null
  }

  setHead(head: FetchedHead): void {
    this.head = head
    this.state = head.revalidated ? 'finished' : 'streaming'
    // bodies that cannot be shared are kept only until their one client subscribes
    this.shouldRetain = head.isShareable
    for (const listener of this.headListeners.splice(0)) listener(head)
  }

  push(chunk: Buffer): void {
    if (this.chunks !== null) {
      this.chunks.push(chunk)
      this.retainedBytes += chunk.length
      if (this.shouldRetain && this.retainedBytes > this.maxRetainedBytes) this.dropRetained()
    }
    for (const sink of this.sinks) sink.onData(chunk)
  }

  finish(): void {
    this.state = 'finished'
    for (const sink of this.sinks.splice(0)) sink.onEnd()
  }

  fail(err: LacquerError): void {
    const hadHead = this.head !== undefined
    this.state = 'failed'
    this.error = err
    this.dropRetained()
    if (!hadHead) for (const listener of this.headListeners.splice(0)) listener(err)
    for (const sink of this.sinks.splice(0)) sink.onError(err)
  }

  /** Attaches a client: replays what arrived so far, then streams the rest. */
  subscribe(sink: BodySink): void {
    if (this.chunks !== null) for (const chunk of this.chunks) sink.onData(chunk)
    else if (this.retainedBytes > 0 && this.state !== 'failed') {
      // the beginning of the body is gone: this client cannot get a whole body
      sink.onError(this.error ?? new LacquerError('ERR_ORIGIN_INCOMPLETE_BODY', 'joined after the start of the body was released'))
      return
    }
    if (!this.shouldRetain) this.dropRetained()
    if (this.state === 'finished') sink.onEnd()
    else if (this.state === 'failed') sink.onError(this.error!)
    else this.sinks.push(sink)
  }

  /** Detaches a client that went away; a body nobody else can use stops being fetched. */
  unsubscribe(sink: BodySink): void {
    const at = this.sinks.indexOf(sink)
    if (at >= 0) this.sinks.splice(at, 1)
    if (this.sinks.length === 0 && this.state === 'streaming' && this.head && !this.head.isStored && !this.head.isShareable) {
      this.cancel?.()
    }
  }

  private dropRetained(): void {
    this.chunks = null
  }
}
