/**
 * @module fsm/transaction
 * One client request as it moves through the states: a typed object, no string-keyed bag.
 */
import type { Readable } from 'node:stream'
import type { ProxyContext } from '../context.js'
import type { LacquerError } from '../errors.js'
import type { BusyEntry, FetchedHead } from '../fetch/busy-entry.js'
import type { HeaderList } from '../http-cache/header-list.js'
import type { PreparedHead } from '../http/h1-head.js'
import type { CacheStatus, CacheStatusDetail } from '../observe/cache-status.js'
import type { StoredObject } from '../store/types.js'
import type { CompiledRule } from '../policy/rules.js'
import type { State } from './steps.js'
import type { EsiRequestContext } from '../esi/child-request.js'

/** Where a response goes: implemented by http/ over node's ServerResponse. */
export interface ClientSink {
  /** a whole response at once (hits, synthetic answers) */
  send(status: number, statusText: string, headers: HeaderList, body: Buffer | undefined): void
  /**
   * Optional (Lacquer's HTTP/1.1 layer): a whole response whose status line and fields were
   * prepared once (http/h1-head.ts), plus the field lines of this response (`fields`, each
   * ending in CR LF). A sink without it is sent the header list instead.
   */
  sendPrepared?(status: number, head: PreparedHead, fields: string, body: Buffer | undefined): void
  /** the head of a streamed response */
  start(status: number, statusText: string, headers: HeaderList): void
  write(chunk: Buffer): void
  end(): void
  /** a 1xx interim response (102, 103) ahead of the final one */
  informational(status: number, headers: HeaderList): void
  /** ends the connection without completing the response (never a truncated body that looks whole) */
  abort(): void
  onClose(listener: () => void): void
  readonly isClosed: boolean
  /** the status sent (0 before any) */
  readonly status: number
  /** body bytes written so far */
  readonly bytesSent: number
}

export interface ClientRequest {
  method: string
  /** path and query, origin-form */
  path: string
  host: string
  scheme: 'http' | 'https'
  headers: HeaderList
  /** the first config rule matching the request (set by recv) */
  rule?: CompiledRule
  /** one user's partition, when the key holds that user's credential (set by hash) */
  partition?: string
  clientAddress: string
  /** the request target as received, before recv normalised it (for the access log) */
  target?: string
  /** the client's HTTP version, e.g. 1.1 */
  httpVersion?: string
}

export interface Synthetic {
  status: number
  reason: string
  detail?: CacheStatusDetail
  error?: LacquerError
}

let nextId = 1

export class Transaction {
  readonly id = nextId++
  readonly startedAt = Date.now()
  /** performance.now() at arrival, for durations */
  readonly startedAtHr = performance.now()
  /** ms from the origin request to its response head, when this request fetched */
  originMs?: number
  key = ''
  /** the store partition of a per-user key */
  partition?: string
  /** a stored response found by lookup (fresh or stale) */
  object?: StoredObject
  /** the fetch this request reads from (its own, or one it joined) */
  busy?: BusyEntry
  head?: FetchedHead
  /** served stale while one background fetch refreshes it */
  isStaleWhileRevalidate = false
  /** the origin failed and the stale object stands in (policy's backendError said so) */
  serveStaleOnError = false
  /** must not join or create a shared fetch (a waiter whose leader's response did not fit it) */
  mustNotCoalesce = false
  /** the key was found uncacheable a moment ago: fetched on its own, never waits behind another request */
  isHitForMiss = false
  passDetail?: CacheStatusDetail
  /** a trusted caller asked (Lacquer-Debug) to see the internal fields: tags */
  showsTags = false
  /** a trusted caller asked (Lacquer-Debug: trace) for the state trace and the cache key */
  showsTrace = false
  synthetic?: Synthetic
  /**
   * The client's header fields and target as they arrived, before recv's edits (a `cache` rule
   * drops the cookie from the page's request, but its ESI fragments need it). Set by recv.
   */
  clientView?: { readonly headers: HeaderList; readonly path: string }
  /** set on an ESI include's child request: its depth, its ancestors and the page's include budget */
  esi?: EsiRequestContext
  readonly cacheStatus: CacheStatus = { hit: false }
  readonly trace: State[] = []

  constructor(
    readonly ctx: ProxyContext,
    readonly request: ClientRequest,
    readonly body: Buffer | Readable | undefined,
    readonly sink: ClientSink,
  ) {}
}
