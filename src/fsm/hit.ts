/**
 * @module fsm/hit
 * hit — a stored response will be delivered. When it is stale within stale-while-revalidate,
 * one background fetch refreshes it (never more than one per key at a time).
 * Exits: deliver.
 */
import { startFetch } from '../fetch/fetch-task.js'
import { ttlMs } from '../http-cache/freshness.js'
import type { Step } from './steps.js'

export const hit: Step = {
  name: 'hit',
  exits: ['deliver'],
  run(tx) {
    const object = tx.object!
    const { ctx } = tx
    ctx.counters.hits++
    tx.cacheStatus.hit = true
    tx.cacheStatus.ttlSeconds = Math.floor(ttlMs(object.freshness, Date.now()) / 1000)
    if (tx.isStaleWhileRevalidate) {
      tx.cacheStatus.detail = 'STALE-WHILE-REVALIDATE'
      if (!ctx.busy.has(tx.key)) {
        const busy = startFetch(ctx, { mode: 'background', key: tx.key, request: { ...tx.request, method: 'GET' }, stale: object })
        ctx.busy.set(tx.key, busy)
      }
    }
    return 'deliver'
  },
}
