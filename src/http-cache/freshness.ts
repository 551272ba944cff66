/**
 * @module http-cache/freshness
 * Freshness lifetime and age (RFC 9111 §4.2), computed once when a response is stored or
 * updated, so that a lookup only compares two numbers. Pure: no I/O, times passed in.
 */
import { type CacheControl, DELTA_SECONDS_MAX } from './cache-control.js'
import { type ReadonlyHeaderList, getAll, getFirst, splitList } from './header-list.js'
import { parseHttpDate } from './http-date.js'

/** What a lookup needs to judge a stored response. All times are epoch ms. */
export interface Freshness {
  /** freshness_lifetime (RFC 9111 §4.2.1) */
  lifetimeMs: number
  /** corrected_initial_age (RFC 9111 §4.2.3) */
  initialAgeMs: number
  /** response_time: when the response was received */
  responseAt: number
  /** where the lifetime came from, for Cache-Status and traces */
  source: 'cdn-cache-control' | 's-maxage' | 'max-age' | 'expires' | 'heuristic' | 'none' | 'config'
}

/** Status codes that are heuristically cacheable (RFC 9110 §15.1). */
export const HEURISTICALLY_CACHEABLE = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501])

/** Share of (Date − Last-Modified) used as heuristic lifetime (RFC 9111 §4.2.2 suggests 10%). */
export const HEURISTIC_FRACTION = 0.1
/** Upper bound for a heuristic lifetime: one day. */
export const HEURISTIC_MAX_MS = 24 * 3600 * 1000

/**
 * Parses `Age` (RFC 9111 §5.1): the first member of the first line, delta-seconds only;
 * anything else (negative, float, text) is ignored and counts as 0.
 */
export function parseAge(headers: ReadonlyHeaderList): number {
  const lines = getAll(headers, 'age')
  if (lines.length === 0) return 0
  const first = splitList(lines[0])[0]
  if (first === undefined) return 0
  const bare = first.split(';')[0]!.trim()
  if (!/^[0-9]+$/.test(bare)) return 0
  return Math.min(Number(bare), DELTA_SECONDS_MAX)
}

/** The Date of a response, or the time it was received when Date is absent or invalid (RFC 9110 §6.6.1). */
export function dateValue(headers: ReadonlyHeaderList, responseAt: number): number {
  const dates = getAll(headers, 'date')
  const parsed = dates.length === 1 ? parseHttpDate(dates[0]) : undefined
  return parsed ?? responseAt
}

/**
 * The freshness lifetime of a response in a shared cache (RFC 9111 §4.2.1):
 * `s-maxage` over `max-age` over `Expires − Date`, else a heuristic (§4.2.2) only for
 * heuristically cacheable statuses or `public`, and only with a `Last-Modified`.
 * When a valid `CDN-Cache-Control` is present it is used instead (RFC 9213 §2.1).
 */
export function freshnessLifetime(
  status: number, headers: ReadonlyHeaderList, cc: CacheControl, isTargeted: boolean, responseAt: number,
): Pick<Freshness, 'lifetimeMs' | 'source'> {
  const seconds = (s: number) => (s < 0 ? 0 : s * 1000)
  if (cc.sMaxage !== undefined) return { lifetimeMs: seconds(cc.sMaxage), source: isTargeted ? 'cdn-cache-control' : 's-maxage' }
  if (cc.maxAge !== undefined) return { lifetimeMs: seconds(cc.maxAge), source: isTargeted ? 'cdn-cache-control' : 'max-age' }
  if (isTargeted) return { lifetimeMs: 0, source: 'cdn-cache-control' }
  const expiresLines = getAll(headers, 'expires')
  if (expiresLines.length > 0) {
    // RFC 9111 §5.3: an invalid Expires (including several lines) means "already expired"
    const expiresAt = expiresLines.length === 1 ? parseHttpDate(expiresLines[0]) : undefined
    if (expiresAt === undefined) return { lifetimeMs: 0, source: 'expires' }
    return { lifetimeMs: Math.max(0, expiresAt - dateValue(headers, responseAt)), source: 'expires' }
  }
  if (HEURISTICALLY_CACHEABLE.has(status) || cc.isPublic) {
    const lastModifiedAt = parseHttpDate(getFirst(headers, 'last-modified'))
    if (lastModifiedAt !== undefined) {
      const span = dateValue(headers, responseAt) - lastModifiedAt
      if (span > 0) return { lifetimeMs: Math.min(HEURISTIC_MAX_MS, Math.floor(span * HEURISTIC_FRACTION)), source: 'heuristic' }
    }
  }
  return { lifetimeMs: 0, source: 'none' }
}

/** corrected_initial_age (RFC 9111 §4.2.3). */
export function initialAge(headers: ReadonlyHeaderList, requestAt: number, responseAt: number): number {
  const apparentAge = Math.max(0, responseAt - dateValue(headers, responseAt))
  const responseDelay = Math.max(0, responseAt - requestAt)
  const correctedAgeValue = parseAge(headers) * 1000 + responseDelay
  return Math.max(apparentAge, correctedAgeValue)
}

export function computeFreshness(
  status: number, headers: ReadonlyHeaderList, cc: CacheControl, isTargeted: boolean, requestAt: number, responseAt: number,
): Freshness {
  const { lifetimeMs, source } = freshnessLifetime(status, headers, cc, isTargeted, responseAt)
  return { lifetimeMs, source, initialAgeMs: initialAge(headers, requestAt, responseAt), responseAt }
}

/** current_age (RFC 9111 §4.2.3) in ms. */
export function currentAge(f: Freshness, now: number): number {
  return f.initialAgeMs + Math.max(0, now - f.responseAt)
}

/** RFC 9111 §4.2: fresh while freshness_lifetime > current_age. */
export function isFresh(f: Freshness, now: number): boolean {
  return f.lifetimeMs > currentAge(f, now)
}

/** Remaining freshness in ms (negative when stale). */
export function ttlMs(f: Freshness, now: number): number {
  return f.lifetimeMs - currentAge(f, now)
}

/** The Age header value to send (RFC 9111 §5.1): whole seconds, capped at 2^31. */
export function ageHeaderValue(f: Freshness, now: number): string {
  return String(Math.min(DELTA_SECONDS_MAX, Math.floor(currentAge(f, now) / 1000)))
}
