/**
 * @module observe/cache-status
 * The `Cache-Status` response field (RFC 9211) and the catalog of its `detail` tokens.
 * Every token Lacquer can send is declared here once; docs/cache-status.md is checked
 * against this catalog by a test.
 */

/** RFC 9211 §2.2 `fwd` values. */
export type ForwardReason = 'bypass' | 'method' | 'uri-miss' | 'vary-miss' | 'miss' | 'request' | 'stale' | 'partial'

/** Detail tokens (RFC 9211 §2.8), each with the one line the docs show. */
export const CACHE_STATUS_DETAILS = {
  'METHOD-NOT-CACHEABLE': 'the request method is not one Lacquer stores (only GET is stored; HEAD is served from it)',
  'STATUS-NOT-CACHEABLE': 'the status code is not stored (1xx, 206, 304)',
  'STATUS-NOT-UNDERSTOOD': 'must-understand with a status code Lacquer does not understand (RFC 9111 §5.2.2.3)',
  'RESPONSE-NO-STORE': 'the response has Cache-Control: no-store (RFC 9111 §5.2.2.5)',
  'RESPONSE-PRIVATE': 'the response has Cache-Control: private (RFC 9111 §5.2.2.7)',
  'RESPONSE-SET-COOKIE': 'the response sets a cookie: never stored, never shared (built-in policy)',
  'REQUEST-NO-STORE': 'the request has Cache-Control: no-store: nothing of it or its response is stored (RFC 9111 §5.2.1.5)',
  'REQUEST-AUTHORIZATION': 'the request has Authorization and the response does not allow shared caching (RFC 9111 §3.5)',
  'REQUEST-COOKIE': 'the request carries a cookie that is not on the ignored (tracking) list (built-in policy)',
  'REQUEST-UNSAFE-METHOD': 'the method is not GET or HEAD: forwarded, never stored (RFC 9111 §4.4 invalidation applies)',
  'RULE-PASS': 'a config rule with pass: true matched the request',
  'REQUEST-RANGE': 'a Range request with nothing stored: forwarded as is, not stored',
  'NO-FRESHNESS-INFORMATION': 'no explicit freshness, not public, status not heuristically cacheable (RFC 9111 §3)',
  'STALE-ON-ARRIVAL': 'the response is already stale and has no validator, so a stored copy could never be reused',
  'VARY-STAR': 'the response has Vary: * and can never be reused (RFC 9111 §4.1)',
  'TOO-LARGE': 'the body is larger than max-object-size: streamed through, not stored',
  'INCOMPLETE-BODY': 'the origin body ended early or was malformed: the client response was aborted, nothing stored',
  'NOT-SHAREABLE': 'a coalesced request whose leader got a response that cannot be shared: fetched on its own',
  'ORIGIN-UNREACHABLE': 'the origin refused or reset the connection',
  'ORIGIN-TIMEOUT': 'the origin did not answer in time',
  'ORIGIN-ERROR-STATUS': 'the origin answered 500/502/503/504 and a stale stored response was served instead (RFC 5861 §4)',
  'ORIGIN-BAD-RESPONSE': 'the origin sent a response that is not valid HTTP/1.1',
  'STALE-WHILE-REVALIDATE': 'served stale within stale-while-revalidate while one background fetch refreshes it (RFC 5861 §3)',
  'HIT-FOR-MISS': 'the object was found uncacheable a moment ago (hitForMiss): fetched at once, in parallel, without waiting behind another request',
  'NO-HEALTHY-ORIGIN': 'every origin of the director is sick (health probes): nothing was sent to an origin',
  'ORIGIN-QUEUE-FULL': 'the chosen origin had all its connections busy and its queue full: load shed with 503',
  'TOO-MANY-WAITERS': 'coalescing.maxWaiters requests already wait for this object: load shed with 503',
  'WAIT-TIMEOUT': 'the fetch this request joined gave no response head within coalescing.waitTimeout: 503',
  'BAD-REQUEST': 'the request was malformed and was answered by Lacquer',
  'PURGED': 'a PURGE from a trusted caller: answered by Lacquer with its receipt',
  'PURGE-REFUSED': 'a PURGE from a caller outside trust.allow without a valid token: refused, nothing invalidated',
  'SOFT-PURGED': 'served stale within grace after a soft purge, while one background fetch refreshes it',
  'ESI-ASSEMBLED': 'an ESI page: assembled for this request from the page and its fragments (each fragment has its own Cache-Status, see GET /esi on the admin port)',
} as const

export type CacheStatusDetail = keyof typeof CACHE_STATUS_DETAILS

export const CACHE_NAME = 'lacquer'

/** The parts of one Cache-Status entry (RFC 9211 §2). */
export interface CacheStatus {
  hit: boolean
  fwd?: ForwardReason
  fwdStatus?: number
  stored?: boolean
  collapsed?: boolean
  ttlSeconds?: number
  key?: string
  detail?: CacheStatusDetail
  /** an ESI page assembled for this request: adds the ESI-ASSEMBLED detail */
  esi?: boolean
}

/** Serialises one Cache-Status list member for Lacquer. */
export function formatCacheStatus(status: CacheStatus): string {
  let out = CACHE_NAME
  if (status.hit) out += '; hit'
  if (status.fwd) out += `; fwd=${status.fwd}`
  if (status.fwdStatus !== undefined) out += `; fwd-status=${status.fwdStatus}`
  if (status.stored) out += '; stored'
  if (status.collapsed) out += '; collapsed'
  if (status.ttlSeconds !== undefined) out += `; ttl=${status.ttlSeconds}`
  // RFC 9211 §2.8: detail is a token, or a string when it says two things
  if (status.esi) out += status.detail ? `; detail="${status.detail} ESI-ASSEMBLED"` : '; detail=ESI-ASSEMBLED'
  else if (status.detail) out += `; detail=${status.detail}`
  return out
}
