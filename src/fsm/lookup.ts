/**
 * @module fsm/lookup
 * lookup — finds a stored response for the key and the request's selecting fields
 * (RFC 9111 §4), or joins a fetch already under way for it (coalescing).
 * Bans issued since the object was last tested are applied first (invalidate/invalidator.ts).
 *   fresh                        → hit
 *   stale, within swr            → hit (and one background refresh)       RFC 5861 §3
 *   soft-purged, within grace    → hit (and one background refresh)
 *   stale otherwise              → miss, revalidating it                   RFC 9111 §4.3
 *   nothing, a joinable fetch    → wait for its head (bounded: fsm/wait-for-fetch.ts), then
 *                                  deliver it if it may be shared; the stale object if it failed
 *   a key found uncacheable      → miss at once, never waiting (hit-for-miss)
 *   nothing                      → miss (pass for HEAD and Range: nothing to store)
 * Exits: hit, miss, pass, deliver, synth.
 */
import { LacquerError } from '../errors.js'
import { isFresh, ttlMs } from '../http-cache/freshness.js'
import { has } from '../http-cache/header-list.js'
import { forbidsServingStale } from '../http-cache/storability.js'
import { varyMatches } from '../http-cache/vary.js'
import type { StoredObject } from '../store/types.js'
import { staleForErrorStatus, staleOrErrorAnswer } from './stale-on-error.js'
import type { Next, Step } from './steps.js'
import type { Transaction } from './transaction.js'
import { waitForHead } from './wait-for-fetch.js'

export const lookup: Step = {
  name: 'lookup',
  exits: ['hit', 'miss', 'pass', 'deliver', 'synth'],
  run(tx) {
    const found = tx.ctx.store.lookup(tx.key, tx.request.headers)
    return found instanceof Promise ? found.then((object) => afterLookup(tx, object)) : afterLookup(tx, found)
  },
}

function afterLookup(tx: Transaction, found: StoredObject | undefined): Next | Promise<Next> {
  const now = Date.now()
  const object = found && tx.ctx.invalidator.checkObject(found)
  if (object) {
    tx.object = object
    if (isFresh(object.freshness, now) && !object.cc.noCache && object.softPurgedAt === undefined) return 'hit'
    if (isWithinStaleWhileRevalidate(object, now)) {
      tx.isStaleWhileRevalidate = true
      return 'hit'
    }
    tx.cacheStatus.fwd = 'stale'
    return joinOrMiss(tx)
  }
  tx.cacheStatus.fwd = tx.ctx.store.hasVariants?.(tx.key) ? 'vary-miss' : 'uri-miss'
  if (tx.request.method === 'HEAD') {
    tx.cacheStatus.fwd = 'method'
    return joinOrPass(tx)
  }
  if (has(tx.request.headers, 'range')) {
    tx.passDetail = 'REQUEST-RANGE'
    return 'pass'
  }
  return joinOrMiss(tx)
}

/**
 * RFC 5861 §3 or a rule's `grace`, limited by RFC 9111 §4.2.4 (must-revalidate and friends
 * forbid it). A soft-purged object is stale since its purge.
 */
function isWithinStaleWhileRevalidate(object: StoredObject, now: number): boolean {
  const graceMs = object.graceMs ?? (object.cc.staleWhileRevalidate === undefined ? undefined : object.cc.staleWhileRevalidate * 1000)
  if (graceMs === undefined || forbidsServingStale(object.cc)) return false
  return staleForMs(object, now) < graceMs
}

/** How long the object has been stale (negative: fresh for that long). */
export function staleForMs(object: StoredObject, now: number): number {
  const expired = -ttlMs(object.freshness, now)
  return object.softPurgedAt === undefined ? expired : Math.max(expired, now - object.softPurgedAt)
}

/** A fetch may be joined unless an invalidation since it began matches it (it could carry purged content). */
function joinable(tx: Transaction) {
  const { ctx } = tx
  const busy = ctx.config.isCoalescing ? ctx.busy.get(tx.key) : undefined
  if (!busy || !busy.canJoin()) return undefined
  return ctx.invalidator.affectsFetch(busy.invalidationSeq, busy.key, busy.head?.tags) ? undefined : busy
}

function joinOrMiss(tx: Transaction): Next | Promise<Next> {
  if (isHitForMiss(tx)) return 'miss'
  const busy = joinable(tx)
  return busy ? waitFor(tx, busy) : 'miss'
}

/** A HEAD with nothing stored may still ride on a GET under way; else it is forwarded as is. */
function joinOrPass(tx: Transaction): Next | Promise<Next> {
  if (isHitForMiss(tx)) return 'pass'
  const busy = joinable(tx)
  return busy ? waitFor(tx, busy) : 'pass'
}

async function waitFor(tx: Transaction, busy: NonNullable<Transaction['busy']>): Promise<Next> {
  busy.waiters++
  tx.ctx.counters.coalesced++
  tx.cacheStatus.collapsed = true
  const head = await waitForHead(tx, busy)
  if (head instanceof LacquerError) return staleOrErrorAnswer(tx, head)
  // never hand one client's response to another unless it is shareable and selected for this request
  const fits = head.isShareable && head.vary !== '*' && varyMatches(head.vary, head.varyValues, tx.request.headers)
  if (!fits || !busy.canJoin()) {
    const stale = staleForErrorStatus(tx, head.status)
    if (stale) return stale
    tx.mustNotCoalesce = true
    tx.cacheStatus.collapsed = false
    tx.cacheStatus.detail = 'NOT-SHAREABLE'
    return tx.request.method === 'HEAD' || has(tx.request.headers, 'range') ? 'pass' : 'miss'
  }
  if (head.revalidated) {
    tx.object = head.revalidated
    return 'hit'
  }
  tx.busy = busy
  tx.head = head
  return 'deliver'
}

/** A key found uncacheable a moment ago goes to the origin at once, in parallel (fetch/hit-for-miss.ts). */
function isHitForMiss(tx: Transaction): boolean {
  if (!tx.ctx.hitForMiss.has(tx.key)) return false
  tx.isHitForMiss = true
  tx.cacheStatus.detail = 'HIT-FOR-MISS'
  return true
}
