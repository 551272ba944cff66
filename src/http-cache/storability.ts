/**
 * @module http-cache/storability
 * Whether a response may be stored by a shared cache (RFC 9111 §3), and whether a stored
 * response may be reused without or with validation (§4.2.4, §4.3). Each rule is a named
 * function returning a Cache-Status detail token when it says no.
 */
import type { CacheControl } from './cache-control.js'
import { HEURISTICALLY_CACHEABLE } from './freshness.js'
import { type ReadonlyHeaderList, getAll, has } from './header-list.js'
import type { CacheStatusDetail } from '../observe/cache-status.js'

/**
 * Status codes whose semantics Lacquer understands (RFC 9110 §15); used by
 * `must-understand` (RFC 9111 §5.2.2.3).
 */
export const UNDERSTOOD_STATUS = new Set([
  200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 307, 308,
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426,
  500, 501, 502, 503, 504, 505,
])

export interface StoreInput {
  method: string
  status: number
  requestHasAuthorization: boolean
  /** the request had Cache-Control: no-store (RFC 9111 §5.2.1.5) */
  requestNoStore: boolean
  /** the entry is keyed to one user (a perUser rule): it behaves as a private cache for `private` and Authorization */
  isPrivateCache?: boolean
  /** a config rule gives the lifetime, so the response needs no freshness information of its own */
  hasConfiguredTtl?: boolean
  /** the effective directives: CDN-Cache-Control when valid, else Cache-Control */
  cc: CacheControl
  headers: ReadonlyHeaderList
  isTargeted: boolean
}

export type StoreVerdict = { canStore: true } | { canStore: false; detail: CacheStatusDetail }

/** RFC 9111 §3: only the methods a cache understands as cacheable; Lacquer stores GET only (HEAD is served from GET). */
export function ruleMethod(input: StoreInput): CacheStatusDetail | undefined {
  return input.method === 'GET' ? undefined : 'METHOD-NOT-CACHEABLE'
}

/** RFC 9111 §3: a final status code; 206 and 304 are not stored (no range combining, §3.3/§3.4). */
export function ruleStatus(input: StoreInput): CacheStatusDetail | undefined {
  if (input.status < 200 || input.status === 206 || input.status === 304) return 'STATUS-NOT-CACHEABLE'
  return undefined
}

/**
 * RFC 9111 §5.2.2.3 and §5.2.2.5: `no-store` forbids storing, unless `must-understand` is
 * present and the status code is understood; `must-understand` with an unknown status
 * forbids it.
 */
export function ruleNoStore(input: StoreInput): CacheStatusDetail | undefined {
  if (input.cc.mustUnderstand) return UNDERSTOOD_STATUS.has(input.status) ? undefined : 'STATUS-NOT-UNDERSTOOD'
  return input.cc.noStore ? 'RESPONSE-NO-STORE' : undefined
}

/** RFC 9111 §5.2.1.5: `no-store` in the request forbids storing any part of the request or response. */
export function ruleRequestNoStore(input: StoreInput): CacheStatusDetail | undefined {
  return input.requestNoStore ? 'REQUEST-NO-STORE' : undefined
}

/**
 * RFC 9111 §5.2.2.7: a shared cache must not store `private` responses. A `private` in
 * Cache-Control also vetoes a CDN-Cache-Control that would allow storing (RFC 9213 lets the
 * targeted field win; Lacquer never shares what the origin marked private).
 */
export function rulePrivate(input: StoreInput): CacheStatusDetail | undefined {
  if (input.isPrivateCache) return undefined
  if (input.cc.isPrivate) return 'RESPONSE-PRIVATE'
  if (input.isTargeted && /(^|[\s,])private([\s,=]|$)/i.test(getAll(input.headers, 'cache-control').join(','))) return 'RESPONSE-PRIVATE'
  return undefined
}

/**
 * RFC 9111 §3.5: a response to a request with `Authorization` is stored by a shared cache
 * only with `must-revalidate`, `public` or `s-maxage`. Lacquer is stricter on purpose: only
 * `public` and `s-maxage` say "share this"; `must-revalidate` is commonly sent on per-user
 * API answers (`max-age=60, must-revalidate`) and would hand one user's answer to others.
 * A perUser rule keyed by the Authorization header stores them per user instead.
 */
export function ruleAuthorization(input: StoreInput): CacheStatusDetail | undefined {
  if (!input.requestHasAuthorization || input.isPrivateCache) return undefined
  const { cc } = input
  return cc.isPublic || cc.sMaxage !== undefined ? undefined : 'REQUEST-AUTHORIZATION'
}

/**
 * RFC 9111 §3: the response must carry explicit freshness, `public`, or a heuristically
 * cacheable status (or, for a targeted field, be governed by it).
 */
export function ruleFreshnessInformation(input: StoreInput): CacheStatusDetail | undefined {
  const { cc, headers } = input
  if (input.isTargeted || input.hasConfiguredTtl) return undefined
  if (cc.maxAge !== undefined || cc.sMaxage !== undefined || cc.isPublic || has(headers, 'expires')) return undefined
  if (HEURISTICALLY_CACHEABLE.has(input.status)) return undefined
  return 'NO-FRESHNESS-INFORMATION'
}

const STORE_RULES = [ruleMethod, ruleStatus, ruleRequestNoStore, ruleNoStore, rulePrivate, ruleAuthorization, ruleFreshnessInformation]

/** Applies the RFC 9111 §3 rules in order; the first "no" wins. */
export function canStoreResponse(input: StoreInput): StoreVerdict {
  for (const rule of STORE_RULES) {
    const detail = rule(input)
    if (detail) return { canStore: false, detail }
  }
  return { canStore: true }
}

/**
 * RFC 9111 §4.2.4: a stale response must not be served without validation when it has
 * `must-revalidate`, `proxy-revalidate` or `s-maxage` (the latter two: shared caches), or
 * `no-cache`.
 */
export function forbidsServingStale(cc: CacheControl): boolean {
  return cc.mustRevalidate || cc.proxyRevalidate || cc.sMaxage !== undefined || cc.noCache
}
