/**
 * Small utilities shared by the c0xx caching-semantics scenarios: HTTP-dates relative to
 * now, polling, counting origin requests by method, holding an origin answer back, and an
 * origin resource whose body numbers the requests it answered.
 */
import type http from 'node:http'
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

/** Response header fields given once, or computed afresh for every request. */
export type ServedHeaders = http.OutgoingHttpHeaders | (() => http.OutgoingHttpHeaders)

/**
 * Registers a handler on `path` answering `status` (default 200) with `headers` (fields
 * whose value is undefined are left out) and the body `${path} #n`, n counting the requests
 * it answered (no body for 204 and 304). The Content-Type is `text/plain` unless `contentType`
 * says otherwise, or is `false` for none.
 */
export function serveNumbered(
  origin: TestOrigin, path: string, headers: ServedHeaders,
  { status = 200, contentType = 'text/plain' }: { status?: number; contentType?: string | false } = {},
): void {
  let n = 0
  origin.on(path, (_req, res) => {
    n++
    if (contentType !== false) res.setHeader('content-type', contentType)
    const h = typeof headers === 'function' ? headers() : headers
    for (const [name, value] of Object.entries(h)) if (value !== undefined) res.setHeader(name, value)
    res.writeHead(status)
    res.end(status === 204 || status === 304 ? undefined : `${path} #${n}`)
  })
}
