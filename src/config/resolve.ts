/**
 * @module config/resolve
 * A config (from a file, the CLI or the library call) → a frozen, validated
 * `ResolvedConfig`. One schema (config/schema.ts) checks it; every error names the key, the
 * bad value and the fix. Units are parsed here and nowhere else.
 */
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { LacquerError } from '../errors.js'
import { TRACKING_COOKIE_PATTERNS } from '../policy/cookies.js'
import { type CompiledRule, compileRule, namePattern } from '../policy/rules.js'
import type { LogLevel } from '../observe/logger.js'
import { DEFAULT_TAG_HEADERS } from '../invalidate/tags.js'
import { DEFAULT_TRUSTED_NETWORKS, type TrustSettings } from '../invalidate/trust.js'
import { type LacquerConfig, configSchema, formatConfigIssues } from './schema.js'
import { parseDuration, parseSize } from './units.js'
import { ORIGIN_DEFAULTS, type ResolvedDirector, type ResolvedOrigin, resolveOrigins } from './resolve-origins.js'

export type { DirectorType, ResolvedDirector, ResolvedOrigin, ResolvedProbe } from './resolve-origins.js'

export interface ListenAddress {
  host: string
  port: number
}

export interface ResolvedConfig {
  readonly listen: ListenAddress
  /** null: no admin port */
  readonly admin: ListenAddress | null
  /** processes `lacquer serve` runs (1: no cluster); createProxy itself is always one process */
  readonly workers: number
  /** the first (or only) origin's address and pool settings; every origin is in `origins` */
  readonly origin: {
    readonly url: string
    readonly connections: number
    readonly connectTimeoutMs: number
    readonly firstByteTimeoutMs: number
    readonly betweenBytesTimeoutMs: number
  }
  /** every origin (one when `origin` was given), in config order */
  readonly origins: readonly ResolvedOrigin[]
  /** how a fetch chooses among the healthy origins */
  readonly director: ResolvedDirector
  readonly store: { readonly maxBytes: number; readonly maxObjectBytes: number }
  readonly limits: {
    readonly maxHeaderBytes: number
    readonly maxHeaderCount: number
    readonly maxUrlBytes: number
  }
  /** the pseudonym in Via and the cache name in Cache-Status */
  readonly name: string
  readonly isCoalescing: boolean
  readonly coalescing: {
    /** requests waiting for one object's fetch, at most */
    readonly maxWaiters: number
    readonly waitTimeoutMs: number
  }
  /** how long an uncacheable answer makes its key skip coalescing (0: never) */
  readonly hitForMissMs: number
  readonly logLevel: LogLevel
  readonly cookies: {
    /** cookies that never matter: ignored for the pass decision, removed from looked-up requests */
    readonly ignore: readonly RegExp[]
    /** cookies that mean "this request is a user's" */
    readonly session: readonly RegExp[]
    readonly unknown: 'pass' | 'ignore'
  }
  readonly perUser: {
    /** the HMAC key for per-user cache keys */
    readonly secret: string
    readonly isSecretGenerated: boolean
    readonly maxEntriesPerUser: number
    readonly maxBytesPerUser: number
  }
  /** query parameters removed from every URL before it is keyed and forwarded */
  readonly dropParams: readonly RegExp[]
  readonly rules: readonly CompiledRule[]
  /** null: no access log */
  readonly accessLog: { readonly format: 'combined' | 'json'; readonly output: string } | null
  /** who may purge, ban and ask for debug fields */
  readonly trust: TrustSettings
  readonly invalidation: {
    readonly purgeMethod: boolean
    /** lower-case names of the response fields carrying tags */
    readonly tagHeaders: ReadonlySet<string>
    readonly maxBans: number
    readonly banSweepIntervalMs: number
  }
  /** ESI delivery (docs/esi.md) */
  readonly esi: {
    readonly isEnabled: boolean
    readonly maxDepth: number
    readonly maxIncludes: number
    readonly includeTimeoutMs: number
    readonly onError: 'abort' | 'empty' | 'comment'
    /** lower-case hosts (besides the page's own) whose absolute include URLs are fetched, with credentials */
    readonly hosts: ReadonlySet<string>
    readonly isCompressing: boolean
    readonly escapeVars: 'html' | 'none'
  }
}

/** The library's options: a config file's contents. */
export type ProxyOptions = LacquerConfig

export const DEFAULTS = {
  listen: '127.0.0.1:8080',
  admin: '127.0.0.1:8081',
  storeSize: '256mb',
  maxObjectSize: '16mb',
  originConnections: ORIGIN_DEFAULTS.connections,
  connectTimeout: ORIGIN_DEFAULTS.connectTimeout,
  firstByteTimeout: ORIGIN_DEFAULTS.firstByteTimeout,
  betweenBytesTimeout: ORIGIN_DEFAULTS.betweenBytesTimeout,
  maxHeaderSize: '32kb',
  maxHeaderCount: 100,
  maxUrlSize: '8kb',
  /** session cookies of common frameworks: a request carrying one is a user's */
  sessionCookies: ['session', 'sessionid', 'sid', 'PHPSESSID', 'JSESSIONID', 'connect.sid', 'laravel_session', '_session_id',
    'wordpress_logged_in_*', 'wp-settings-*', 'SESS*', 'SSESS*', 'ASP.NET_SessionId', '*_session'],
  /** tracking parameters dropped from every URL (they never change what the origin renders) */
  dropParams: ['utm_*', 'fbclid', 'gclid', 'dclid', 'msclkid', 'mc_cid', 'mc_eid', '_ga', 'yclid', 'igshid'],
  maxEntriesPerUser: 100,
  maxBytesPerUser: '2mb',
  trustedNetworks: DEFAULT_TRUSTED_NETWORKS,
  tagHeaders: DEFAULT_TAG_HEADERS,
  maxBans: 10_000,
  banSweepInterval: '1s',
  /** Varnish's max_esi_depth default */
  esiMaxDepth: 5,
  esiMaxIncludes: 100,
  esiIncludeTimeout: '5s',
} as const

export const SPIKE_DEFAULTS = {
  maxWaiters: 10_000,
  waitTimeout: '30s',
  /** Varnish's builtin.vcl marks uncacheable objects hit-for-miss for 2 minutes */
  hitForMiss: '2m',
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

export { parseOriginUrl } from './resolve-origins.js'

const size = (v: string | number) => parseSize(v)!
const duration = (v: string | number) => parseDuration(v)!

export function resolveConfig(input: LacquerConfig): ResolvedConfig {
  const data = (input ?? {}) as LacquerConfig
  const parsed = configSchema.safeParse(data)
  if (!parsed.success) {
    throw new LacquerError('ERR_CONFIG_INVALID', `\n  ${formatConfigIssues(parsed.error, data).join('\n  ')}`)
  }
  const c = parsed.data
  const { origins, director } = resolveOrigins(c)
  const first = origins[0]!
  const coalescing = typeof c.coalescing === 'object' ? c.coalescing : { enabled: c.coalescing }
  const maxBytes = size(c.store?.size ?? DEFAULTS.storeSize)
  // the default object limit shrinks to fit a small store; an explicit one must fit
  const maxObjectBytes = c.store?.maxObjectSize === undefined ? Math.min(size(DEFAULTS.maxObjectSize), maxBytes) : size(c.store.maxObjectSize)
  if (maxObjectBytes > maxBytes) throw invalid('store.maxObjectSize', c.store?.maxObjectSize, `it must not exceed store.size (${c.store?.size ?? DEFAULTS.storeSize})`)
  const rules = (c.rules ?? []).map((rule, index) => compileRule({
    ...rule,
    ttlMs: rule.ttl === undefined ? undefined : duration(rule.ttl),
    graceMs: rule.grace === undefined ? undefined : duration(rule.grace),
    keepMs: rule.keep === undefined ? undefined : duration(rule.keep),
  }, index))
  const secret = c.perUser?.secret
  const config: ResolvedConfig = {
    listen: parseListenAddress('listen', c.listen ?? DEFAULTS.listen),
    admin: c.admin === false ? null : parseListenAddress('admin', c.admin ?? DEFAULTS.admin),
    // one process unless asked: each worker has a store of its own (ADR 0008), so with N a URL is stored N times and a
    // client's next request finds it only when it reaches the same worker
    workers: c.workers === 'auto' ? availableParallelism() : c.workers ?? 1,
    origin: {
      url: first.url,
      connections: first.connections,
      connectTimeoutMs: first.connectTimeoutMs,
      firstByteTimeoutMs: first.firstByteTimeoutMs,
      betweenBytesTimeoutMs: first.betweenBytesTimeoutMs,
    },
    origins,
    director,
    store: { maxBytes, maxObjectBytes },
    limits: {
      maxHeaderBytes: size(c.limits?.maxHeaderSize ?? DEFAULTS.maxHeaderSize),
      maxHeaderCount: c.limits?.maxHeaderCount ?? DEFAULTS.maxHeaderCount,
      maxUrlBytes: size(c.limits?.maxUrlSize ?? DEFAULTS.maxUrlSize),
    },
    name: 'lacquer',
    isCoalescing: coalescing.enabled !== false,
    coalescing: {
      maxWaiters: coalescing.maxWaiters ?? SPIKE_DEFAULTS.maxWaiters,
      waitTimeoutMs: duration(coalescing.waitTimeout ?? SPIKE_DEFAULTS.waitTimeout),
    },
    hitForMissMs: c.hitForMiss === false ? 0 : duration(c.hitForMiss ?? SPIKE_DEFAULTS.hitForMiss),
    logLevel: c.logLevel ?? 'info',
    cookies: {
      ignore: [...(c.cookies?.ignoreBuiltin === false ? [] : TRACKING_COOKIE_PATTERNS), ...(c.cookies?.ignore ?? []).map(namePattern)],
      session: (c.cookies?.session ?? DEFAULTS.sessionCookies).map(namePattern),
      unknown: c.cookies?.unknown ?? 'pass',
    },
    perUser: {
      secret: secret ?? randomBytes(32).toString('hex'),
      isSecretGenerated: secret === undefined,
      maxEntriesPerUser: c.perUser?.maxEntriesPerUser ?? DEFAULTS.maxEntriesPerUser,
      maxBytesPerUser: size(c.perUser?.maxBytesPerUser ?? DEFAULTS.maxBytesPerUser),
    },
    dropParams: (c.key?.dropParams ?? DEFAULTS.dropParams).map(namePattern),
    rules,
    accessLog: c.accessLog ? { format: c.accessLog.format ?? 'combined', output: c.accessLog.output ?? '-' } : null,
    trust: {
      allow: c.trust?.allow ?? DEFAULTS.trustedNetworks,
      token: c.trust?.token,
      require: c.trust?.require ?? 'address-or-token',
    },
    invalidation: {
      purgeMethod: c.invalidation?.purgeMethod ?? true,
      tagHeaders: new Set((c.invalidation?.tagHeaders ?? DEFAULTS.tagHeaders).map((h) => h.toLowerCase())),
      maxBans: c.invalidation?.maxBans ?? DEFAULTS.maxBans,
      banSweepIntervalMs: duration(c.invalidation?.banSweepInterval ?? DEFAULTS.banSweepInterval),
    },
    esi: {
      isEnabled: c.esi?.enabled ?? true,
      maxDepth: c.esi?.maxDepth ?? DEFAULTS.esiMaxDepth,
      maxIncludes: c.esi?.maxIncludes ?? DEFAULTS.esiMaxIncludes,
      includeTimeoutMs: duration(c.esi?.includeTimeout ?? DEFAULTS.esiIncludeTimeout),
      onError: c.esi?.onError ?? 'abort',
      hosts: new Set((c.esi?.hosts ?? []).map((h) => h.toLowerCase())),
      isCompressing: c.esi?.compress ?? true,
      escapeVars: c.esi?.escapeVars ?? 'html',
    },
  }
  return deepFreeze(config)
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof RegExp)) {
    for (const v of Object.values(value)) if (typeof v !== 'function') deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
