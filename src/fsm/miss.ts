/**
 * @module fsm/miss
 * miss — fetches the object from the origin (revalidating the stale one when there is one),
 * as a busy entry other requests for the key may join. When the origin fails (unreachable,
 * timeout, or 500/502/503/504) and a stale object may be served, it is served instead
 * (RFC 5861 §4 stale-if-error; RFC 9111 §4.2.4 allows stale when disconnected).
 * Exits: deliver, hit, synth.
 */
import { LacquerError } from '../errors.js'
import { KEEP_FOR_ERRORS_MS, startFetch } from '../fetch/fetch-task.js'
import { ttlMs } from '../http-cache/freshness.js'
import { forbidsServingStale } from '../http-cache/storability.js'
import type { CacheStatusDetail } from '../observe/cache-status.js'
import type { StoredObject } from '../store/types.js'
import type { Step } from './steps.js'
import type { Transaction } from './transaction.js'

/** Origin statuses that count as "the origin is failing" for stale-if-error (RFC 5861 §4). */
export const ERROR_STATUSES = new Set([500, 502, 503, 504])

export const miss: Step = {
  name: 'miss',
  exits: ['deliver', 'hit', 'synth'],
  async run(tx) {
    const { ctx } = tx
    ctx.counters.misses++
    const busy = startFetch(ctx, {
      mode: 'miss', key: tx.key, request: tx.request, stale: tx.object,
      onInformational: (status, headers) => tx.sink.informational(status, headers),
    })
    if (ctx.config.isCoalescing && !tx.mustNotCoalesce) ctx.busy.set(tx.key, busy)
    const head = await busy.whenHead()
    if (head instanceof LacquerError) {
      if (canServeStaleOnError(tx, tx.object)) return serveStale(tx, head.code === 'ERR_ORIGIN_TIMEOUT' ? 'ORIGIN-TIMEOUT' : 'ORIGIN-UNREACHABLE')
      tx.synthetic = { status: head.statusCode, reason: head.message, error: head }
      return 'synth'
    }
    if (ERROR_STATUSES.has(head.status) && !head.revalidated && canServeStaleOnError(tx, tx.object)) {
      if (!head.isShareable) busy.cancel?.()
      tx.cacheStatus.fwdStatus = head.originStatus
      return serveStale(tx, 'ORIGIN-ERROR-STATUS')
    }
    tx.busy = busy
    tx.head = head
    tx.cacheStatus.fwdStatus = head.originStatus
    if (head.revalidated) {
      tx.object = head.revalidated
      return 'deliver'
    }
    tx.object = undefined
    tx.cacheStatus.stored = head.isStored
    if (head.detail) tx.cacheStatus.detail = head.detail
    return 'deliver'
  },
}

/**
 * A stale object may stand in for a failing origin unless a directive forbids serving it
 * stale (RFC 9111 §4.2.4), within its stale-if-error window, or else within the default
 * keep-for-errors window.
 */
export function canServeStaleOnError(_tx: Transaction, stale: StoredObject | undefined): stale is StoredObject {
  if (!stale || forbidsServingStale(stale.cc)) return false
  const staleForMs = -ttlMs(stale.freshness, Date.now())
  const windowMs = stale.cc.staleIfError !== undefined ? stale.cc.staleIfError * 1000 : KEEP_FOR_ERRORS_MS
  return staleForMs < windowMs
}

function serveStale(tx: Transaction, detail: CacheStatusDetail): 'hit' {
  tx.cacheStatus.fwd = 'stale'
  tx.cacheStatus.detail = detail
  return 'hit'
}
