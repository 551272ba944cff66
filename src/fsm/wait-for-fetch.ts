/**
 * @module fsm/wait-for-fetch
 * A request that joined a fetch under way (coalescing) waits for its response head, within
 * bounds: at most `coalescing.maxWaiters` requests wait for one object, each at most
 * `coalescing.waitTimeout`. Beyond them the request ends at once with a 503 and Retry-After
 * (or the stale object, when policy allows), instead of piling up memory behind a slow origin.
 */
import { LacquerError } from '../errors.js'
import type { BusyEntry, FetchedHead } from '../fetch/busy-entry.js'
import type { Transaction } from './transaction.js'

export async function waitForHead(tx: Transaction, busy: BusyEntry): Promise<FetchedHead | LacquerError> {
  if (busy.head || busy.error) return busy.whenHead()
  const { ctx } = tx
  const { maxWaiters, waitTimeoutMs } = ctx.config.coalescing
  if (busy.waitingForHead >= maxWaiters) {
    ctx.counters.waitersShed++
    return new LacquerError('ERR_ORIGIN_TOO_MANY_WAITERS', `${busy.waitingForHead} requests wait for ${busy.key}`)
  }
  busy.waitingForHead++
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<LacquerError>((resolve) => {
    timer = setTimeout(() => {
      ctx.counters.waitersShed++
      resolve(new LacquerError('ERR_ORIGIN_WAIT_TIMEOUT', `no response head for ${busy.key} within ${waitTimeoutMs} ms`))
    }, waitTimeoutMs)
  })
  try {
    return await Promise.race([busy.whenHead(), timeout])
  } finally {
    clearTimeout(timer)
    busy.waitingForHead--
  }
}
