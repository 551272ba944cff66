/**
 * @module fsm/hit
 * hit — a stored object was found and may be used. Policy may still refetch (`miss`), pass or
 * answer. When it is stale within its grace (stale-while-revalidate), one background fetch
 * refreshes it (never more than one per key at a time).
 * Exits: deliver, miss, pass, synth.
 */
import { startFetch } from '../fetch/fetch-task.js'
import { staleForMs } from './lookup.js'
import { type Step, illegalAction } from './steps.js'

export const hit: Step = {
  name: 'hit',
  exits: ['deliver', 'miss', 'pass', 'synth'],
  run(tx) {
    const object = tx.object!
    const { ctx } = tx
    const remainingMs = -staleForMs(object, Date.now())
    const action = tx.serveStaleOnError ? { action: 'deliver' as const }
      : ctx.policy.hit(tx.request, { status: object.status, headers: object.headers, ttlMs: remainingMs, tags: object.tags })
    switch (action.action) {
      case 'deliver':
        break
      case 'miss':
        tx.cacheStatus.fwd = 'stale'
        return 'miss'
      case 'pass':
        tx.object = undefined
        tx.passDetail = action.detail
        return 'pass'
      case 'synth':
        tx.synthetic = { status: action.status, reason: action.reason }
        return 'synth'
      default:
        return illegalAction('hit', action)
    }
    ctx.counters.hits++
    tx.cacheStatus.hit = true
    tx.cacheStatus.ttlSeconds = Math.floor(remainingMs / 1000)
    if (tx.isStaleWhileRevalidate) {
      tx.cacheStatus.detail = object.softPurgedAt === undefined ? 'STALE-WHILE-REVALIDATE' : 'SOFT-PURGED'
      if (!ctx.busy.has(tx.key)) {
        const busy = startFetch(ctx, {
          mode: 'background', key: tx.key, partition: tx.partition, request: { ...tx.request, method: 'GET' }, stale: object,
        })
        ctx.busy.set(tx.key, busy)
      }
    }
    return 'deliver'
  },
}
