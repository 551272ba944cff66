/**
 * @module context
 * What the two state machines share for the life of a proxy: the resolved config, the store,
 * the origins, the compiled policy, the busy entries (coalescing) and the counters.
 */
import type { ResolvedConfig } from './config/resolve.js'
import type { BusyEntry } from './fetch/busy-entry.js'
import type { HitForMiss } from './fetch/hit-for-miss.js'
import type { OriginSet } from './origin/origin-set.js'
import type { CompiledPolicy } from './policy/types.js'
import type { CacheStore } from './store/types.js'
import type { Logger } from './observe/logger.js'
import type { Observer } from './observe/observer.js'
import type { InvalidationBus } from './invalidate/bus.js'
import type { Invalidator } from './invalidate/invalidator.js'
import type { TrustGuard } from './invalidate/trust.js'

/** Final states of client requests, counted for /stats. */
export interface Counters {
  requests: number
  hits: number
  misses: number
  passes: number
  synths: number
  coalesced: number
  revalidations: number
  purges: number
  originRequests: number
  originErrors: number
  incompleteBodies: number
  /** requests served a stale object because the origin failed */
  staleOnError: number
  /** requests answered 503 because coalescing.maxWaiters or waitTimeout was reached */
  waitersShed: number
}

export function newCounters(): Counters {
  return { requests: 0, hits: 0, misses: 0, passes: 0, synths: 0, coalesced: 0, revalidations: 0, purges: 0, originRequests: 0, originErrors: 0, incompleteBodies: 0, staleOnError: 0, waitersShed: 0 }
}

export interface ProxyContext {
  /** swapped as a whole, with `policy`, by a reload */
  config: ResolvedConfig
  readonly store: CacheStore
  /** the origins and their director */
  readonly origin: OriginSet
  policy: CompiledPolicy
  /** primary key → the fetch other requests for it may join */
  readonly busy: Map<string, BusyEntry>
  /** keys recently found uncacheable: fetched in parallel, never coalesced */
  readonly hitForMiss: HitForMiss
  readonly counters: Counters
  readonly log: Logger
  /** this node's invalidations (purges, bans) and what fetches in flight must check */
  readonly invalidator: Invalidator
  /** where purges are published: every node's invalidator (the local bus: this one) */
  readonly bus: InvalidationBus
  /** who may purge and ask for debug fields; rebuilt by a reload */
  trust: TrustGuard
  /** metrics, live numbers and the access log are fed from here */
  readonly observer: Observer
}

/**
 * The primary cache key: the target URI (RFC 9111 §2) — scheme, lower-cased host without the
 * default port, path and query. The scheme is what the client's TLS terminator said
 * (X-Forwarded-Proto), so a response made for http never answers https, and the reverse.
 */
export function makeCacheKey(scheme: 'http' | 'https', host: string, path: string): string {
  let h = host.toLowerCase()
  if (scheme === 'http' && h.endsWith(':80')) h = h.slice(0, -3)
  else if (scheme === 'https' && h.endsWith(':443')) h = h.slice(0, -4)
  return `${scheme}://${h}${path}`
}
