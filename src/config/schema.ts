/**
 * @module config/schema
 * The one schema of a Lacquer config file (zod). Every message says what is wrong and how
 * to fix it; `formatConfigIssues` prefixes each with the key path. Data only: hooks (the
 * TypeScript policy) are checked to be functions, and typed by `defineConfig`.
 */
import { z } from 'zod'
import type { Policy } from '../policy/types.js'
import { parseCidr } from '../invalidate/trust.js'
import { parseDuration, parseSize } from './units.js'

const sizeText = z.union([z.string(), z.number()]).refine((v) => { const n = parseSize(v); return n !== undefined && n > 0 }, {
  message: 'not a size; use e.g. 256mb, 16mb, 512kb or a number of bytes',
})
const durationText = z.union([z.string(), z.number()]).refine((v) => parseDuration(v) !== undefined, {
  message: 'not a duration; use e.g. 10s, 250ms, 5m, 1h, 2d',
})
/** A timeout: 0 would mean "wait forever" to the origin client, so it must be above 0. */
const timeoutText = z.union([z.string(), z.number()]).refine((v) => { const ms = parseDuration(v); return ms !== undefined && ms > 0 }, {
  message: 'not a duration; use e.g. 10s, 250ms, 5m (above 0: a timeout of 0 would mean none)',
})
const address = z.string().regex(/^(?:\[[0-9a-fA-F:.]+\]|[^:[\]]*):\d{1,5}$|^\d{1,5}$/, {
  message: 'not an address; use HOST:PORT, e.g. 127.0.0.1:8080 (port 0 picks a free port)',
})
const headerName = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { message: 'not a valid header field name' })
const cookieName = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { message: 'not a valid cookie name (* is a wildcard, e.g. _ga*)' })
const regexText = z.string().superRefine((v, ctx) => {
  try { new RegExp(v) } catch (err) { ctx.addIssue({ code: 'custom', message: `not a valid regular expression (${(err as Error).message})` }) }
})
const method = z.string().regex(/^[A-Z][A-Z-]*$/, { message: 'not a method; use upper case, e.g. GET' })

/** A health probe, as Varnish's `probe`: the origin is healthy while `threshold` of the last `window` probes passed. */
export const probeSchema = z.strictObject({
  url: z.string().startsWith('/', { message: 'the probe url is a path on the origin, e.g. /healthz' }).optional(),
  interval: timeoutText.optional(),
  timeout: timeoutText.optional(),
  expectedStatus: z.number().int().min(100, { message: 'an HTTP status, 100 to 599' }).max(599, { message: 'an HTTP status, 100 to 599' }).optional(),
  window: z.number().int().min(1, { message: 'must be 1 to 64' }).max(64, { message: 'must be 1 to 64' }).optional(),
  threshold: z.number().int().min(1, { message: 'must be ≥ 1' }).optional(),
  initial: z.number().int().min(0, { message: 'must be ≥ 0' }).optional(),
}).superRefine((probe, ctx) => {
  // a probe every millisecond is a load test of the origin, not a health check
  const intervalMs = probe.interval === undefined ? 5000 : parseDuration(probe.interval)
  if (intervalMs !== undefined && intervalMs > 0 && intervalMs < 50) ctx.addIssue({ code: 'custom', path: ['interval'], message: 'at least 50ms (Varnish\'s default is 5s)' })
  const window = probe.window ?? 8
  if ((probe.threshold ?? 3) > window) ctx.addIssue({ code: 'custom', path: ['threshold'], message: `must not exceed window (${window}): that many of the last window probes must pass` })
  if (probe.initial !== undefined && probe.initial > window) ctx.addIssue({ code: 'custom', path: ['initial'], message: `must not exceed window (${window})` })
})

const originObject = z.strictObject({
  /** shown in /stats and logs; unique among origins */
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, { message: 'a name of letters, digits, _ . or -' }).optional(),
  url: z.string(),
  /** share of the requests under the random and hash directors */
  weight: z.number().positive({ message: 'must be above 0' }).optional(),
  connections: z.number().int().min(1, { message: 'must be ≥ 1' }).optional(),
  /** requests waiting for a free connection, at most; beyond it a 503 */
  maxQueue: z.number().int().min(0, { message: 'must be ≥ 0' }).optional(),
  connectTimeout: timeoutText.optional(),
  firstByteTimeout: timeoutText.optional(),
  betweenBytesTimeout: timeoutText.optional(),
  probe: z.union([z.string().startsWith('/', { message: 'the probe url is a path on the origin, e.g. /healthz' }), probeSchema]).optional(),
})

export const DIRECTOR_TYPES = ['round-robin', 'random', 'hash', 'fallback'] as const

/** More worker processes than this is a typo, not a machine. */
export const MAX_WORKERS = 256

export const headerEditsSchema = z.strictObject({
  set: z.record(headerName, z.string()).optional(),
  unset: z.array(headerName).optional(),
})

export const ruleSchema = z.strictObject({
  /** shown in traces and errors */
  name: z.string().optional(),
  match: z.strictObject({
    host: z.union([z.string(), z.array(z.string())]).optional(),
    methods: z.array(method).optional(),
    path: z.union([z.string().startsWith('/', { message: 'a path glob starts with /, e.g. /products/**' }), z.array(z.string().startsWith('/', { message: 'a path glob starts with /' }))]).optional(),
    pathRegex: regexText.optional(),
    headers: z.record(headerName, z.union([z.string(), z.boolean()])).optional(),
    cookies: z.record(cookieName, z.union([z.string(), z.boolean()])).optional(),
  }).optional(),
  ttl: durationText.optional(),
  grace: durationText.optional(),
  keep: durationText.optional(),
  pass: z.boolean().optional(),
  cache: z.boolean().optional(),
  perUser: z.union([
    z.strictObject({ cookie: cookieName }),
    z.strictObject({ header: headerName }),
  ]).optional(),
  tags: z.array(z.string().regex(/^[^\s,]+$/, { message: 'a tag has no spaces or commas' })).optional(),
  esi: z.boolean().optional(),
  requestHeaders: headerEditsSchema.optional(),
  responseHeaders: headerEditsSchema.optional(),
  key: z.strictObject({
    query: z.enum(['keep', 'drop', 'sort']).optional(),
    dropParams: z.array(z.string()).optional(),
    vary: z.array(headerName).optional(),
  }).optional(),
}).superRefine((rule, ctx) => {
  if (rule.pass && rule.cache) ctx.addIssue({ code: 'custom', message: 'pass and cache contradict each other; keep one' })
  if (rule.pass && rule.perUser) ctx.addIssue({ code: 'custom', message: 'a passed route is never stored, so perUser has no effect; remove one' })
  if (rule.match?.path !== undefined && rule.match.pathRegex !== undefined) ctx.addIssue({ code: 'custom', message: 'give match.path (glob) or match.pathRegex, not both' })
})

const HOOK_NAMES = ['recv', 'hash', 'hit', 'miss', 'pass', 'deliver', 'backendRequest', 'backendResponse', 'backendError'] as const
const hooksSchema = z.strictObject(Object.fromEntries(HOOK_NAMES.map((n) => [n, z.any().refine((f) => typeof f === 'function', { message: 'a hook is a function' }).optional()])))

export const configSchema = z.strictObject({
  listen: address.optional(),
  admin: z.union([address, z.literal(false)]).optional(),
  /**
   * processes serving the listen port (`lacquer serve` only; the library is one process);
   * default 1; `auto`: one per core. Each worker has its own store (ADR 0008).
   */
  workers: z.union([
    z.number().int({ message: 'a whole number of processes, or "auto" (one per core)' }).min(1, { message: 'must be ≥ 1 (1: one process, no cluster)' }).max(MAX_WORKERS, { message: `must be ≤ ${MAX_WORKERS}` }),
    z.literal('auto'),
  ]).optional(),
  /** one origin; or `origins` for several (exactly one of the two) */
  origin: z.union([z.string(), originObject]).optional(),
  origins: z.array(z.union([z.string(), originObject])).min(1, { message: 'give at least one origin' }).optional(),
  /** `{ type }`, or the type alone (as `--director` takes it) */
  director: z.union([
    z.enum(DIRECTOR_TYPES, { message: `one of ${DIRECTOR_TYPES.join(', ')}` }),
    z.strictObject({ type: z.enum(DIRECTOR_TYPES, { message: `one of ${DIRECTOR_TYPES.join(', ')}` }) }),
  ]).optional(),
  store: z.strictObject({
    type: z.literal('memory', { message: 'only "memory" for now' }).optional(),
    size: sizeText.optional(),
    maxObjectSize: sizeText.optional(),
  }).optional(),
  limits: z.strictObject({
    maxHeaderSize: sizeText.optional(),
    maxHeaderCount: z.number().int().min(1, { message: 'must be ≥ 1' }).optional(),
    maxUrlSize: sizeText.optional(),
  }).optional(),
  coalescing: z.union([z.boolean(), z.strictObject({
    enabled: z.boolean().optional(),
    /** requests waiting for one object's fetch, at most; more get a quick 503 */
    maxWaiters: z.number().int().min(1, { message: 'must be ≥ 1' }).optional(),
    /** how long a request waits for the head of the fetch it joined; then a 503 */
    waitTimeout: timeoutText.optional(),
  })]).optional(),
  /** how long an uncacheable answer is remembered so its key skips coalescing (false: never) */
  hitForMiss: z.union([durationText, z.literal(false)]).optional(),
  logLevel: z.enum(['error', 'warn', 'info', 'debug']).optional(),
  cookies: z.strictObject({
    /** cookies that never matter for caching (added to the built-in tracking list) */
    ignore: z.array(cookieName).optional(),
    /** true (default): the built-in tracking list applies; false drops it */
    ignoreBuiltin: z.boolean().optional(),
    /** cookies that mean "this request is a user's" */
    session: z.array(cookieName).optional(),
    /** what a cookie on neither list does: pass the request (safe), or be ignored like a tracking cookie */
    unknown: z.enum(['pass', 'ignore']).optional(),
  }).optional(),
  perUser: z.strictObject({
    secret: z.string().min(16, { message: 'use a secret of at least 16 characters (e.g. `openssl rand -hex 32`), or leave it out to generate one at start' }).optional(),
    maxEntriesPerUser: z.number().int().min(1, { message: 'must be ≥ 1' }).optional(),
    maxBytesPerUser: sizeText.optional(),
  }).optional(),
  key: z.strictObject({
    dropParams: z.array(z.string()).optional(),
  }).optional(),
  trust: z.strictObject({
    /** networks (CIDRs or addresses) whose callers may purge, ban and ask for debug fields */
    allow: z.array(z.string().refine((v) => parseCidr(v) !== undefined, {
      message: 'not an address or CIDR; use e.g. 127.0.0.0/8, 10.0.0.0/8, ::1/128 or 192.0.2.7',
    })).optional(),
    /** a bearer token that also grants trust (Authorization: Bearer …) */
    token: z.string().min(16, { message: 'use a token of at least 16 characters (e.g. `openssl rand -hex 32`)' }).optional(),
    /** whether the address or the token suffices, or both are needed */
    require: z.enum(['address-or-token', 'address-and-token']).optional(),
  }).optional(),
  invalidation: z.strictObject({
    /** accept PURGE on the proxy port (from trusted callers) */
    purgeMethod: z.boolean().optional(),
    /** response fields carrying surrogate keys (tags) */
    tagHeaders: z.array(headerName).optional(),
    /** bans waiting for the sweeper beyond which new ones are refused (503) */
    maxBans: z.number().int().min(1, { message: 'must be ≥ 1' }).optional(),
    /** how often the sweeper looks for bans to apply */
    banSweepInterval: timeoutText.optional(),
  }).optional(),
  accessLog: z.union([z.literal(false), z.strictObject({
    /** combined: NCSA combined plus state and seconds (like varnishncsa); json: one object per line */
    format: z.enum(['combined', 'json']).optional(),
    /** a file (appended to), or - / stdout / stderr */
    output: z.string().min(1, { message: 'give a file path, or - for stdout' }).optional(),
  })]).optional(),
  esi: z.strictObject({
    /** false: never process ESI and do not advertise it (Surrogate-Capability) */
    enabled: z.boolean().optional(),
    /** deepest nesting of fragments that include fragments (the page is depth 0) */
    maxDepth: z.number().int().min(1, { message: 'must be ≥ 1' }).max(32, { message: 'must be ≤ 32' }).optional(),
    /** most includes fetched for one client request, nested fragments included */
    maxIncludes: z.number().int().min(1, { message: 'must be ≥ 1' }).optional(),
    /** how long one include may take (its alt gets the same again) */
    includeTimeout: timeoutText.optional(),
    /** what a failed include outside any esi:try and without onerror="continue" does to the page */
    onError: z.enum(['abort', 'empty', 'comment']).optional(),
    /** other hosts served by the same origin: absolute include URLs to them are allowed (with the client's credentials) */
    hosts: z.array(z.string().regex(/^[a-zA-Z0-9.-]+(?::\d{1,5})?$/, { message: 'a host name, e.g. shop.example or shop.example:8080' })).optional(),
    /** compress the assembled page (br or gzip) for clients that accept it */
    compress: z.boolean().optional(),
    /** how esi:vars writes values: html-escaped (default) or raw, as ESI 1.0 says */
    escapeVars: z.enum(['html', 'none']).optional(),
  }).optional(),
  rules: z.array(ruleSchema).optional(),
  hooks: hooksSchema.optional(),
}).superRefine((config, ctx) => {
  if (config.trust?.require === 'address-and-token' && config.trust.token === undefined) {
    ctx.addIssue({ code: 'custom', path: ['trust', 'require'], message: 'address-and-token needs trust.token; set one or use address-or-token' })
  }
  if (config.origin === undefined && config.origins === undefined) {
    ctx.addIssue({ code: 'custom', path: ['origin'], message: 'required: give the app\'s address, http://HOST:PORT or unix:/path.sock (or several under origins)' })
  }
  if (config.origin !== undefined && config.origins !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['origins'], message: 'give origin (one) or origins (several), not both' })
  }
  const names = new Set<string>()
  config.origins?.forEach((origin, i) => {
    const name = typeof origin === 'string' ? undefined : origin.name
    if (name === undefined) return
    if (names.has(name)) ctx.addIssue({ code: 'custom', path: ['origins', i, 'name'], message: 'another origin has this name; names are unique' })
    names.add(name)
  })
})

export type RuleConfig = z.input<typeof ruleSchema>
/** A config file's contents. `hooks` is the TypeScript policy. */
export type LacquerConfig = Omit<z.input<typeof configSchema>, 'hooks'> & { hooks?: Policy }

/** Identity function that types a config file (`export default defineConfig({...})`). */
export function defineConfig(config: LacquerConfig): LacquerConfig {
  return config
}

/** What a key taking one of two shapes expects, said once for the error message. */
const UNION_HINTS: Record<string, string> = {
  origin: 'give the app\'s address as a string (http://HOST:PORT or unix:/path.sock) or as { url, connections, connectTimeout, … }',
  origins: 'give each origin as a string (http://HOST:PORT or unix:/path.sock) or as { name, url, weight, connections, probe, … }',
  coalescing: 'expected boolean (true or false), or { enabled, maxWaiters, waitTimeout }',
  hitForMiss: 'give a duration (e.g. 2m, 30s) or false',
  probe: 'give the probe\'s path (e.g. /healthz) or { url, interval, timeout, expectedStatus, window, threshold, initial }',
  admin: 'give HOST:PORT (keep it on loopback, e.g. 127.0.0.1:8081) or false for no admin port',
  perUser: 'give exactly one of { cookie: NAME } or { header: NAME }',
  accessLog: 'give false (no access log) or { format: combined | json, output: FILE | - }',
  workers: `give a whole number of processes from 1 (one process, the default) to ${MAX_WORKERS}, unquoted, or auto (one per core)`,
}

type Issue = z.core.$ZodIssue

/** One line per problem: `rules[2].ttl: "10x" — not a duration; use e.g. 10s…`. */
export function formatConfigIssues(error: z.ZodError, input: unknown): string[] {
  return error.issues.flatMap((issue) => formatIssue(issue as Issue, [], input))
}

function formatIssue(issue: Issue, prefix: PropertyKey[], input: unknown): string[] {
  const fullPath = [...prefix, ...issue.path]
  const path = fullPath.reduce<string>((acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), '')
  let value: unknown = input
  for (const part of fullPath) value = value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[part as PropertyKey] : undefined
  const shown = value === undefined ? 'missing' : JSON.stringify(value)
  if (issue.code === 'unrecognized_keys') {
    return [`${path || '(top level)'}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}; check the spelling against docs/configuration.md`]
  }
  if (issue.code === 'invalid_key') {
    // a bad name used as a key (a header or cookie name in a record)
    const why = issue.issues.map((i) => i.message).join('; ')
    return [`${fullPath.slice(0, -1).reduce<string>((acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), '')}: key ${JSON.stringify(String(fullPath[fullPath.length - 1]))} — ${why}`]
  }
  if (issue.code === 'invalid_union') {
    // an element of a list (origins[1]) is hinted by the list's name
    const at = fullPath[fullPath.length - 1]
    const last = String((typeof at === 'number' ? fullPath[fullPath.length - 2] : at) ?? '')
    // an object given where an object shape is allowed: report that branch's own problems
    if (value && typeof value === 'object' && last !== 'perUser') {
      // prefer the branch that failed inside the object (its keys), not one that wanted another type
      const branch = issue.errors.find((errs) => errs.length > 0 && errs.every((e) => e.path.length > 0))
        ?? issue.errors.find((errs) => errs.every((e) => e.path.length > 0 || e.code !== 'invalid_type'))
      if (branch) return branch.flatMap((e) => formatIssue(e as Issue, fullPath, input))
    }
    return [`${path}: ${shown} — ${UNION_HINTS[last] ?? 'not one of the accepted forms; see docs/configuration.md'}`]
  }
  let message = issue.message
  const expected = issue.code === 'invalid_type' ? (issue.expected === 'int' ? 'a whole number' : issue.expected) : ''
  if (issue.code === 'invalid_type') message = value === undefined ? `required (expected ${expected})` : `expected ${expected}`
  return [`${path}: ${shown} — ${message}`]
}
