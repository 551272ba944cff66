/**
 * @module http-cache/invalidation
 * Invalidation after unsafe methods (RFC 9111 §4.4), and the field rules for storing and
 * forwarding (RFC 9110 §7.6.1 hop-by-hop fields, RFC 9111 §3.1 and §3.2).
 */
import { type HeaderList, type ReadonlyHeaderList, getAll, splitList } from './header-list.js'

/** Safe methods (RFC 9110 §9.2.1); any other method, known or not, is unsafe. */
export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/**
 * RFC 9111 §4.4: a non-error (2xx/3xx) response to an unsafe method invalidates the target
 * URI, and the URIs in Location and Content-Location when they have the same origin.
 * Returns the paths (path + query) to invalidate on `host`.
 */
export function urisToInvalidate(
  method: string, status: number, targetPath: string, host: string, response: ReadonlyHeaderList, scheme: 'http' | 'https' = 'http',
): string[] {
  if (SAFE_METHODS.has(method) || status < 200 || status >= 400) return []
  const out = [targetPath]
  for (const name of ['location', 'content-location']) {
    for (const value of getAll(response, name)) {
      const path = sameOriginPath(value, scheme, host, targetPath)
      if (path !== undefined && !out.includes(path)) out.push(path)
    }
  }
  return out
}

/** The path of `reference` when it has the same origin (scheme, host, port; RFC 6454) as the target. */
function sameOriginPath(reference: string, scheme: string, host: string, basePath: string): string | undefined {
  try {
    const base = new URL(`${scheme}://${host}${basePath}`)
    const url = new URL(reference, base)
    if (url.origin !== base.origin) return undefined
    return url.pathname + url.search
  } catch {
    return undefined
  }
}

/** Hop-by-hop fields (RFC 9110 §7.6.1) and others a proxy never forwards or stores. */
export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'proxy-authenticate', 'proxy-authorization', 'proxy-authentication-info',
])

/**
 * Fields a `Connection` option can never remove: Host is required on every request
 * (RFC 9112 §3.2), and a request whose Host is dropped would be forwarded for another site
 * than the one it is keyed for.
 */
const NEVER_NOMINATED = new Set(['host'])

/** Removes hop-by-hop fields, and those named by `Connection` (RFC 9110 §7.6.1). */
export function stripHopByHop(headers: ReadonlyHeaderList): HeaderList {
  const named = new Set<string>()
  for (const line of getAll(headers, 'connection')) for (const n of splitList(line)) named.add(n.toLowerCase())
  return headers.filter(([name]) => !HOP_BY_HOP.has(name) && (!named.has(name) || NEVER_NOMINATED.has(name))).map(([k, v]) => [k, v])
}

/**
 * The same as stripHopByHop, on a list the caller owns (a response just received): the fields
 * are taken out where they are, no copy made.
 */
export function removeHopByHop(headers: HeaderList): HeaderList {
  let named: Set<string> | undefined
  for (const [name, value] of headers) {
    // `keep-alive` and `close` name no field that is not hop-by-hop already (the common answer)
    if (name !== 'connection' || value === 'keep-alive' || value === 'close') continue
    for (const n of splitList(value)) (named ??= new Set()).add(n.toLowerCase())
  }
  let kept = 0
  for (let i = 0; i < headers.length; i++) {
    const field = headers[i]!
    const name = field[0]
    if (HOP_BY_HOP.has(name) || (named !== undefined && named.has(name) && !NEVER_NOMINATED.has(name))) continue
    headers[kept++] = field
  }
  headers.length = kept
  return headers
}

/** The list itself when it holds no hop-by-hop field (the common request), else a stripped copy. */
export function withoutHopByHop<T extends ReadonlyHeaderList>(headers: T): T | HeaderList {
  for (const [name] of headers) if (HOP_BY_HOP.has(name)) return stripHopByHop(headers)
  return headers
}

/** Fields a 304 must not change in the stored response (RFC 9111 §3.2). */
const NOT_UPDATED_BY_304 = new Set(['content-length', 'content-encoding', 'content-range', 'transfer-encoding'])

/**
 * RFC 9111 §3.2 / §4.3.4: the stored fields updated with those of a 304 (or of a HEAD
 * response): each field present in the update replaces all stored lines of that name.
 */
export function mergeHeaders(stored: ReadonlyHeaderList, update: ReadonlyHeaderList): HeaderList {
  const replaced = new Set<string>()
  for (const [name] of update) if (!NOT_UPDATED_BY_304.has(name)) replaced.add(name)
  const out: HeaderList = stored.filter(([name]) => !replaced.has(name)).map(([k, v]) => [k, v])
  for (const [name, value] of update) if (replaced.has(name)) out.push([name, value])
  return out
}
