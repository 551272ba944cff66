/**
 * @module fsm/stale-on-error
 * What a failing origin means for one client request, shared by `miss` (the request that
 * fetched) and `lookup` (requests that waited for that fetch): policy's backendError decides
 * whether the stale object stands in (RFC 5861 §4 stale-if-error, RFC 9111 §4.2.4 "disconnected")
 * or an error is answered. The origin is failing when it cannot be reached, times out, sends
 * garbage, has no healthy origin or a full queue, or answers 500/502/503/504; other statuses
 * (404, 410, …) are answers, not failures.
 */
import { ERRORS, type LacquerError } from '../errors.js'
import { ttlMs } from '../http-cache/freshness.js'
import type { CacheStatusDetail } from '../observe/cache-status.js'
import { DETAIL_BY_ERROR } from './synth.js'
import type { Transaction } from './transaction.js'

/** Origin statuses that count as "the origin is failing" for stale-if-error (RFC 5861 §4). */
export const ERROR_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504])

export type BackendErrorDecision = 'serveStale' | { status: number; reason: string } | undefined

/** Asks policy what a failing origin means here: 'serveStale', a synthetic answer, or undefined (deliver the error). */
export function onBackendError(tx: Transaction, code: string | undefined, status: number | undefined): BackendErrorDecision {
  // a hard purge while the fetch was under way takes the stale copy out of reach too
  const stale = tx.object?.isPurged ? undefined : tx.object
  const action = tx.ctx.policy.backendError({
    code, status, request: tx.request,
    stale: stale ? { staleForMs: -ttlMs(stale.freshness, Date.now()), cc: stale.cc } : undefined,
  })
  if (action.action === 'serveStale') return stale ? 'serveStale' : undefined
  if (action.action === 'synth') return { status: action.status, reason: action.reason }
  return undefined
}

/** The stale object stands in: `hit` delivers it, Cache-Status says fwd=stale and why. */
export function serveStale(tx: Transaction, detail: CacheStatusDetail): 'hit' {
  tx.cacheStatus.fwd = 'stale'
  tx.cacheStatus.detail = detail
  tx.serveStaleOnError = true
  tx.ctx.counters.staleOnError++
  return 'hit'
}

/** The fetch failed with an error (no response): the stale object, or the error's answer. */
export function staleOrErrorAnswer(tx: Transaction, err: LacquerError): 'hit' | 'synth' {
  const decision = onBackendError(tx, err.code, undefined)
  if (decision === 'serveStale') return serveStale(tx, DETAIL_BY_ERROR[err.code] ?? 'ORIGIN-UNREACHABLE')
  // a policy's own reason is shown as given; without one, the error's catalog entry answers
  tx.synthetic = decision?.reason
    ? { status: decision.status, reason: decision.reason, detail: DETAIL_BY_ERROR[err.code] }
    : { status: decision?.status || ERRORS[err.code].statusCode, reason: err.message, error: err }
  return 'synth'
}

/**
 * A waiter whose leader got 500/502/503/504 that cannot be shared: the stale object when
 * policy allows, rather than asking the failing origin once more for this request.
 */
export function staleForErrorStatus(tx: Transaction, status: number): 'hit' | undefined {
  if (!tx.object || tx.object.isPurged || !ERROR_STATUSES.has(status)) return undefined
  return onBackendError(tx, undefined, status) === 'serveStale' ? serveStale(tx, 'ORIGIN-ERROR-STATUS') : undefined
}
