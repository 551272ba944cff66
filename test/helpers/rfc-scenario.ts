/**
 * Small utilities shared by the c0xx caching-semantics scenarios: HTTP-dates relative to
 * now, polling, counting origin requests by method, and holding an origin answer back.
 */
import type { TestOrigin } from './origin.js'
import { sleep } from './origin.js'

/** An IMF-fixdate `offsetSeconds` from now (negative: in the past). */
export function httpDate(offsetSeconds = 0): string {
  return new Date(Date.now() + offsetSeconds * 1000).toUTCString()
}

/** Requests the origin received for `path` (path + query), optionally only those with `method`. */
export function originRequests(origin: TestOrigin, path: string, method?: string) {
  return origin.received.filter((r) => r.url === path && (method === undefined || r.method === method))
}

/** Polls until `predicate` holds; fails after `timeoutMs`. */
export async function waitUntil(predicate: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(10)
  }
}

/** A promise with its resolve function exposed: lets a test hold an origin answer until it says so. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => { resolve = r })
  return { promise, resolve }
}

/** Slightly longer than one second: long enough for `max-age=1` to run out. */
export const PAST_ONE_SECOND_MS = 1150
