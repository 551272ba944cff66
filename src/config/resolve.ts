/**
 * @module config/resolve
 * Options (from the CLI or the library call) → a frozen, validated `ResolvedConfig`.
 * Errors name the option, the bad value and the fix.
 */
import { LacquerError } from '../errors.js'
import { parseDuration, parseSize } from './units.js'

export interface ListenAddress {
  host: string
  port: number
}

export interface ResolvedConfig {
  readonly listen: ListenAddress
  /** null: no admin port */
  readonly admin: ListenAddress | null
  readonly origin: {
    readonly url: string
    readonly connections: number
    readonly connectTimeoutMs: number
    readonly firstByteTimeoutMs: number
    readonly betweenBytesTimeoutMs: number
  }
  readonly store: { readonly maxBytes: number; readonly maxObjectBytes: number }
  readonly limits: {
    readonly maxHeaderBytes: number
    readonly maxHeaderCount: number
    readonly maxUrlBytes: number
  }
  /** the pseudonym in Via and the cache name in Cache-Status */
  readonly name: string
  readonly isCoalescing: boolean
}

/** What a user may pass; every field optional but `origin`. Sizes and durations take units. */
export interface ProxyOptions {
  origin: string
  listen?: string
  admin?: string | false
  storeSize?: string | number
  maxObjectSize?: string | number
  originConnections?: number
  connectTimeout?: string | number
  firstByteTimeout?: string | number
  betweenBytesTimeout?: string | number
  maxHeaderSize?: string | number
  maxHeaderCount?: number
  maxUrlSize?: string | number
  coalescing?: boolean
}

export const DEFAULTS = {
  listen: '127.0.0.1:8080',
  admin: '127.0.0.1:8081',
  storeSize: '256mb',
  maxObjectSize: '16mb',
  originConnections: 256,
  connectTimeout: '5s',
  firstByteTimeout: '60s',
  betweenBytesTimeout: '60s',
  maxHeaderSize: '32kb',
  maxHeaderCount: 100,
  maxUrlSize: '8kb',
} as const

function invalid(key: string, value: unknown, fix: string): LacquerError {
  return new LacquerError('ERR_CONFIG_INVALID', `${key}: ${JSON.stringify(value)} is not valid; ${fix}`)
}

/** Parses "HOST:PORT", ":PORT", "PORT" or "[v6]:PORT". */
export function parseListenAddress(key: string, text: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text) ?? /^()()(\d{1,5})$/.exec(text)
  const port = m ? Number(m[3]) : NaN
  if (!m || !(port >= 0 && port <= 65535)) throw invalid(key, text, 'use HOST:PORT, e.g. 127.0.0.1:8080 (port 0 picks a free port)')
  return { host: m[1] || m[2] || '127.0.0.1', port }
}

function size(key: string, value: string | number): number {
  const parsed = parseSize(value)
  if (parsed === undefined || parsed <= 0) throw invalid(key, value, 'use a size such as 256mb, 16mb, 512kb or a number of bytes')
  return parsed
}

function duration(key: string, value: string | number): number {
  const parsed = parseDuration(value)
  if (parsed === undefined || parsed <= 0) throw invalid(key, value, 'use a duration such as 10s, 250ms or 2m')
  return parsed
}

/** Validates the origin URL: http://host[:port] (no path) or unix:/absolute/path. */
export function parseOriginUrl(value: string): string {
  if (typeof value !== 'string' || value === '') throw invalid('origin', value, 'give the app\'s address, e.g. --origin http://127.0.0.1:3000')
  if (value.startsWith('unix:')) {
    if (!value.slice(5).startsWith('/')) throw invalid('origin', value, 'a Unix socket origin is unix:/absolute/path.sock')
    return value
  }
  let url: URL
  try { url = new URL(value) } catch { throw invalid('origin', value, 'use http://HOST:PORT, e.g. http://127.0.0.1:3000') }
  if (url.protocol !== 'http:') throw invalid('origin', value, 'only http:// origins (or unix:/path) are supported')
  if (url.pathname !== '/' || url.search || url.hash || url.username) throw invalid('origin', value, 'give only scheme, host and port, with no path, query or credentials')
  return url.origin
}

export function resolveConfig(options: ProxyOptions): ResolvedConfig {
  const o = { ...DEFAULTS, ...stripUndefined(options) }
  const maxBytes = size('storeSize', o.storeSize)
  // the default object limit shrinks to fit a small store; an explicit one must fit
  const maxObjectBytes = options.maxObjectSize === undefined
    ? Math.min(size('maxObjectSize', o.maxObjectSize), maxBytes)
    : size('maxObjectSize', o.maxObjectSize)
  if (maxObjectBytes > maxBytes) throw invalid('maxObjectSize', o.maxObjectSize, `it must not exceed storeSize (${o.storeSize})`)
  const connections = Number(o.originConnections)
  if (!Number.isInteger(connections) || connections < 1) throw invalid('originConnections', o.originConnections, 'use a whole number ≥ 1')
  const maxHeaderCount = Number(o.maxHeaderCount)
  if (!Number.isInteger(maxHeaderCount) || maxHeaderCount < 1) throw invalid('maxHeaderCount', o.maxHeaderCount, 'use a whole number ≥ 1')
  const config: ResolvedConfig = {
    listen: parseListenAddress('listen', o.listen),
    admin: o.admin === false ? null : parseListenAddress('admin', o.admin),
    origin: {
      url: parseOriginUrl(options.origin),
      connections,
      connectTimeoutMs: duration('connectTimeout', o.connectTimeout),
      firstByteTimeoutMs: duration('firstByteTimeout', o.firstByteTimeout),
      betweenBytesTimeoutMs: duration('betweenBytesTimeout', o.betweenBytesTimeout),
    },
    store: { maxBytes, maxObjectBytes },
    limits: {
      maxHeaderBytes: size('maxHeaderSize', o.maxHeaderSize),
      maxHeaderCount,
      maxUrlBytes: size('maxUrlSize', o.maxUrlSize),
    },
    name: 'lacquer',
    isCoalescing: o.coalescing !== false,
  }
  return deepFreeze(config)
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
