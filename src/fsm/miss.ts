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
import type { FetchedHead } from '../fetch/busy-entry.js'
import { startFetch } from '../fetch/fetch-task.js'
import { ERROR_STATUSES, onBackendError, serveStale, staleOrErrorAnswer } from './stale-on-error.js'
import type { Step } from './steps.js'
import type { Transaction } from './transaction.js'

export { ERROR_STATUSES } from './stale-on-error.js'

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
    // a hit-for-miss key is fetched by each request on its own: nobody waits behind it
    if (ctx.config.isCoalescing && !tx.mustNotCoalesce && !tx.isHitForMiss) ctx.busy.set(tx.key, busy)
    const head = await busy.whenHead()
    if (head instanceof LacquerError) return staleOrErrorAnswer(tx, head)
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
    rememberUncacheable(tx, head)
    if (head.detail && !tx.isHitForMiss) tx.cacheStatus.detail = head.detail
    return 'deliver'
  },
}

/**
 * Hit-for-miss (Varnish): an answer that was neither stored nor shareable makes its key skip
 * coalescing for a while, so the next requests go to the origin in parallel instead of
 * queueing behind one another; a stored answer ends that at once. Failing origins (5xx) are
 * not remembered: that is stale-if-error's business. Nor is an answer unshareable because of
 * the request (its no-store, Authorization…, detail REQUEST-*), nor the answer to a HEAD (it
 * says nothing of the GET's): one client's request must not switch coalescing off for everyone
 * (an attacker could, just as a popular page expires).
 */
function rememberUncacheable(tx: Transaction, head: FetchedHead): void {
  const { ctx } = tx
  if (head.isStored) ctx.hitForMiss.forget(tx.key)
  else if (tx.request.method === 'GET' && !head.isShareable && !ERROR_STATUSES.has(head.status) && !head.detail?.startsWith('REQUEST-') && ctx.config.hitForMissMs > 0) {
    ctx.hitForMiss.remember(tx.key, ctx.config.hitForMissMs)
  }
}
