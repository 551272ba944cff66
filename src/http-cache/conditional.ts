/**
 * @module http-cache/conditional
 * Conditional requests: evaluating a client's preconditions against a stored response
 * (RFC 9111 §4.3.2, RFC 9110 §13.2.2) and building validators for revalidation (§4.3.1).
 */
import { type HeaderList, type ReadonlyHeaderList, getCombined, getFirst, splitList } from './header-list.js'
import { parseHttpDate } from './http-date.js'

/** Weak comparison of entity tags (RFC 9110 §8.8.3.2). */
export function weakMatch(a: string, b: string): boolean {
  const strip = (t: string) => (t.startsWith('W/') ? t.slice(2) : t)
  return strip(a.trim()) === strip(b.trim())
}

/** RFC 9110 §13.1.2: `If-None-Match` matches `*` or any listed tag (weak comparison). */
export function ifNoneMatchMatches(ifNoneMatch: string, etag: string | undefined): boolean {
  if (ifNoneMatch.trim() === '*') return true
  if (etag === undefined) return false
  return splitList(ifNoneMatch).some((tag) => weakMatch(tag, etag))
}

/**
 * Whether a client's conditional GET/HEAD can be answered with 304 from the stored
 * response (RFC 9110 §13.2.2: If-None-Match takes precedence over If-Modified-Since;
 * RFC 9111 §4.3.2: without Last-Modified, the stored Date or reception time is used).
 */
export function isNotModified(request: ReadonlyHeaderList, stored: ReadonlyHeaderList, storedAt: number): boolean {
  const ifNoneMatch = getCombined(request, 'if-none-match')
  if (ifNoneMatch !== undefined) return ifNoneMatchMatches(ifNoneMatch, getFirst(stored, 'etag'))
  const ifModifiedSince = parseHttpDate(getFirst(request, 'if-modified-since'))
  if (ifModifiedSince === undefined) return false
  const lastModifiedAt = parseHttpDate(getFirst(stored, 'last-modified'))
    ?? parseHttpDate(getFirst(stored, 'date')) ?? storedAt
  return lastModifiedAt <= ifModifiedSince
}

/** True when the request carries a precondition Lacquer evaluates itself. */
export function hasClientConditional(request: ReadonlyHeaderList): boolean {
  for (const [name] of request) if (name === 'if-none-match' || name === 'if-modified-since') return true
  return false
}

/** RFC 9111 §4.3.1: validators to send when revalidating a stored response. */
export function validatorsFor(stored: ReadonlyHeaderList): HeaderList {
  const out: HeaderList = []
  const etag = getFirst(stored, 'etag')
  if (etag !== undefined) out.push(['if-none-match', etag])
  const lastModified = getFirst(stored, 'last-modified')
  if (lastModified !== undefined) out.push(['if-modified-since', lastModified])
  return out
}

/** Fields a 304 must carry when generated from a stored 200 (RFC 9110 §15.4.5). */
export const NOT_MODIFIED_FIELDS = new Set([
  'cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified',
])

/**
 * RFC 9111 §4.3.4: a 304 selects the stored response when the validators agree: an ETag
 * equal to the stored one, else a Last-Modified equal to the stored one (or the stored
 * response has none: it is the one we asked about, as Lacquer revalidates one response at a
 * time), else (no validator in the 304) the single stored response.
 */
export function notModifiedSelects(notModified: ReadonlyHeaderList, stored: ReadonlyHeaderList): boolean {
  const newTag = getFirst(notModified, 'etag')
  if (newTag !== undefined) {
    const storedTag = getFirst(stored, 'etag')
    return storedTag !== undefined && weakMatch(newTag, storedTag)
  }
  const newLastModified = getFirst(notModified, 'last-modified')
  if (newLastModified !== undefined) {
    const storedLastModified = getFirst(stored, 'last-modified')
    return storedLastModified === undefined || storedLastModified === newLastModified
  }
  return true
}
