/**
 * @module fsm/miss
 * miss — fetches the object from the origin (revalidating the stale one when there is one),
 * as a busy entry other requests for the key may join. When the origin fails (unreachable,
 * timeout, bad response, or 500/502/503/504), policy's backendError decides: serve the stale
 * object (RFC 5861 §4 stale-if-error; RFC 9111 §4.2.4 allows stale when disconnected), or
 * answer the error.
 * Exits: deliver, hit, pass, synth.
 */
import { LacquerError } from '../errors.js'
import { startFetch } from '../fetch/fetch-task.js'
import { ttlMs } from '../http-cache/freshness.js'
import type { CacheStatusDetail } from '../observe/cache-status.js'
import { DETAIL_BY_ERROR } from './synth.js'
import type { Step } from './steps.js'
import type { Transaction } from './transaction.js'

/** Origin statuses that count as "the origin is failing" for stale-if-error (RFC 5861 §4). */
export const ERROR_STATUSES = new Set([500, 502, 503, 504])

export const miss: Step = {
  name: 'miss',
  exits: ['deliver', 'hit', 'pass', 'synth'],
  async run(tx) {
    const { ctx } = tx
    const action = ctx.policy.miss(tx.request)
    if (action.action === 'pass') { tx.passDetail = action.detail; tx.object = undefined; return 'pass' }
    if (action.action === 'synth') { tx.synthetic = { status: action.status, reason: action.reason }; return 'synth' }
    ctx.counters.misses++
    const busy = startFetch(ctx, {
      mode: 'miss', key: tx.key, partition: tx.partition, request: tx.request, stale: tx.object,
      onInformational: (status, headers) => tx.sink.informational(status, headers),
    })
    if (ctx.config.isCoalescing && !tx.mustNotCoalesce) ctx.busy.set(tx.key, busy)
    const head = await busy.whenHead()
    if (head instanceof LacquerError) {
      const decision = onBackendError(tx, head.code, undefined)
      if (decision === 'serveStale') return serveStale(tx, head.code === 'ERR_ORIGIN_TIMEOUT' ? 'ORIGIN-TIMEOUT' : 'ORIGIN-UNREACHABLE')
      // a policy's own reason is shown as given; without one, the error's catalog entry answers
      tx.synthetic = decision?.reason
        ? { status: decision.status, reason: decision.reason, detail: DETAIL_BY_ERROR[head.code] }
        : { status: decision?.status || head.statusCode, reason: head.message, error: head }
      return 'synth'
    }
    if (ERROR_STATUSES.has(head.status) && !head.revalidated) {
      const decision = onBackendError(tx, undefined, head.status)
      if (decision !== undefined) {
        if (!head.isShareable) busy.cancel?.()
        tx.cacheStatus.fwdStatus = head.originStatus
        if (decision === 'serveStale') return serveStale(tx, 'ORIGIN-ERROR-STATUS')
        tx.synthetic = { status: decision.status, reason: decision.reason || `origin answered ${head.status}`, detail: 'ORIGIN-ERROR-STATUS' }
        return 'synth'
      }
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

/** Asks policy what a failing origin means here: 'serveStale', a synthetic answer, or undefined (deliver the error). */
function onBackendError(tx: Transaction, code: string | undefined, status: number | undefined): 'serveStale' | { status: number; reason: string } | undefined {
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

function serveStale(tx: Transaction, detail: CacheStatusDetail): 'hit' {
  tx.cacheStatus.fwd = 'stale'
  tx.cacheStatus.detail = detail
  tx.serveStaleOnError = true
  return 'hit'
}
