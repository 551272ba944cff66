/**
 * @module invalidate/bans
 * A ban invalidates every object whose URL matches it — by host, path prefix or regular
 * expression — without a scan at the moment it is issued (Varnish's ban list). It is applied
 * lazily: on lookup, to an object not yet tested against it, and by the sweeper, which walks
 * the store and drops the ban once every object older than it has been tested.
 */
import type { InvalidationMode } from '../store/types.js'

/** What a caller asks for; at least one field. `host` alone bans a whole site. */
export interface BanSpec {
  /** the Host the key was made for, e.g. `shop.example` or `shop.example:8080` */
  readonly host?: string
  /** path prefix, starting with `/` (query included in what is matched) */
  readonly prefix?: string
  /** regular expression over the path with query (e.g. `^/products/[0-9]+$`) */
  readonly pattern?: string
}

export interface Ban extends BanSpec {
  /** unique per ban (several bans of one request share a `seq`) */
  readonly id: number
  /** the invalidation sequence number it was issued at */
  readonly seq: number
  readonly createdAt: number
  readonly mode: InvalidationMode
  /** compiled `pattern` (linear-time engine, see invalidate/safe-regex.ts) */
  readonly regex?: RegExp
  /** objects tested against it, and how many it invalidated */
  tested: number
  invalidated: number
}

/** Splits a resource (`host/path?query`, see store/types resourceOfKey) into host and path. */
export function splitResource(resource: string): { host: string; path: string } {
  const slash = resource.indexOf('/')
  return slash < 0 ? { host: resource, path: '/' } : { host: resource.slice(0, slash), path: resource.slice(slash) }
}

function hostMatches(banHost: string, host: string): boolean {
  if (banHost === host) return true
  // a ban for "shop.example" covers "shop.example:8080" too
  const colon = host.lastIndexOf(':')
  return colon > 0 && !host.endsWith(']') && host.slice(0, colon) === banHost
}

export function banMatches(ban: BanSpec & { regex?: RegExp }, host: string, path: string): boolean {
  if (ban.host !== undefined && !hostMatches(ban.host, host)) return false
  if (ban.prefix !== undefined && !path.startsWith(ban.prefix)) return false
  if (ban.regex !== undefined && !ban.regex.test(path)) return false
  return true
}

/** How a ban is shown by GET /bans and in receipts. */
export function describeBan(ban: Ban) {
  return {
    id: ban.id, mode: ban.mode, createdAt: new Date(ban.createdAt).toISOString(),
    ...(ban.host === undefined ? {} : { host: ban.host }),
    ...(ban.prefix === undefined ? {} : { prefix: ban.prefix }),
    ...(ban.pattern === undefined ? {} : { pattern: ban.pattern }),
    tested: ban.tested, invalidated: ban.invalidated,
  }
}
