/**
 * @module config/resolve-origins
 * The origin part of the config → resolved origins (each with its pool limits, timeouts and
 * health probe) and the director that chooses among them. `origin` (one) and `origins`
 * (several) resolve to the same list; a single origin is a list of one.
 */
import { LacquerError } from '../errors.js'
import type { DIRECTOR_TYPES, LacquerConfig, probeSchema } from './schema.js'
import { parseDuration } from './units.js'
import type { z } from 'zod'

export type DirectorType = (typeof DIRECTOR_TYPES)[number]

export interface ResolvedProbe {
  /** origin-form path requested with GET */
  readonly path: string
  readonly intervalMs: number
  readonly timeoutMs: number
  readonly expectedStatus: number
  /** how many of the latest probes are remembered */
  readonly window: number
  /** how many of them must have passed for the origin to be healthy */
  readonly threshold: number
  /** how many are counted as passed at start */
  readonly initial: number
}

export interface ResolvedOrigin {
  /** unique; shown in /stats and logs */
  readonly name: string
  /** `http://host:port` or `unix:/path.sock` */
  readonly url: string
  readonly weight: number
  readonly connections: number
  /** requests waiting for a free connection, at most */
  readonly maxQueue: number
  readonly connectTimeoutMs: number
  readonly firstByteTimeoutMs: number
  readonly betweenBytesTimeoutMs: number
  /** null: no probe, always healthy */
  readonly probe: ResolvedProbe | null
}

export interface ResolvedDirector {
  readonly type: DirectorType
}

export const ORIGIN_DEFAULTS = {
  connections: 256,
  maxQueue: 1024,
  connectTimeout: '5s',
  firstByteTimeout: '60s',
  betweenBytesTimeout: '60s',
  director: 'round-robin' as DirectorType,
  /** Varnish's probe defaults, except `initial` (see ADR 0005): healthy at start */
  probe: { path: '/', interval: '5s', timeout: '2s', expectedStatus: 200, window: 8, threshold: 3 },
} as const

type OriginInput = NonNullable<LacquerConfig['origin']>
type ProbeInput = z.input<typeof probeSchema>

function invalid(key: string, value: unknown, fix: string): LacquerError {
  return new LacquerError('ERR_CONFIG_INVALID', `${key}: ${JSON.stringify(value)} is not valid; ${fix}`)
}

/** Validates an origin URL: http://host[:port] (no path) or unix:/absolute/path. */
export function parseOriginUrl(value: string, key = 'origin'): string {
  if (typeof value !== 'string' || value === '') throw invalid(key, value, 'give the app\'s address, e.g. --origin http://127.0.0.1:3000')
  if (value.startsWith('unix:')) {
    if (!value.slice(5).startsWith('/')) throw invalid(key, value, 'a Unix socket origin is unix:/absolute/path.sock')
    return value
  }
  let url: URL
  try { url = new URL(value) } catch { throw invalid(key, value, 'use http://HOST:PORT, e.g. http://127.0.0.1:3000') }
  if (url.protocol !== 'http:') throw invalid(key, value, 'only http:// origins (or unix:/path) are supported')
  if (url.pathname !== '/' || url.search || url.hash || url.username) throw invalid(key, value, 'give only scheme, host and port, with no path, query or credentials')
  return url.origin
}

const duration = (v: string | number) => parseDuration(v)!

function resolveProbe(input: string | ProbeInput | undefined): ResolvedProbe | null {
  if (input === undefined) return null
  const probe: ProbeInput = typeof input === 'string' ? { url: input } : input
  const d = ORIGIN_DEFAULTS.probe
  const threshold = probe.threshold ?? d.threshold
  return {
    path: probe.url ?? d.path,
    intervalMs: duration(probe.interval ?? d.interval),
    timeoutMs: duration(probe.timeout ?? d.timeout),
    expectedStatus: probe.expectedStatus ?? d.expectedStatus,
    window: probe.window ?? d.window,
    threshold,
    initial: probe.initial ?? threshold,
  }
}

function resolveOne(input: OriginInput, index: number, key: string): ResolvedOrigin {
  const origin = typeof input === 'string' ? { url: input } : input
  const d = ORIGIN_DEFAULTS
  return {
    name: origin.name ?? `origin${index + 1}`,
    url: parseOriginUrl(origin.url, typeof input === 'string' ? key : `${key}.url`),
    weight: origin.weight ?? 1,
    connections: origin.connections ?? d.connections,
    maxQueue: origin.maxQueue ?? d.maxQueue,
    connectTimeoutMs: duration(origin.connectTimeout ?? d.connectTimeout),
    firstByteTimeoutMs: duration(origin.firstByteTimeout ?? d.firstByteTimeout),
    betweenBytesTimeoutMs: duration(origin.betweenBytesTimeout ?? d.betweenBytesTimeout),
    probe: resolveProbe(origin.probe),
  }
}

/** `origin` or `origins` (the schema has checked that exactly one is given) → the list and the director. */
export function resolveOrigins(config: Pick<LacquerConfig, 'origin' | 'origins' | 'director'>): { origins: ResolvedOrigin[]; director: ResolvedDirector } {
  const origins = config.origins
    ? config.origins.map((o, i) => resolveOne(o, i, `origins[${i}]`))
    : [resolveOne(config.origin!, 0, 'origin')]
  const director = typeof config.director === 'string' ? config.director : config.director?.type
  return { origins, director: { type: director ?? ORIGIN_DEFAULTS.director } }
}
