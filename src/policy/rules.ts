/**
 * @module policy/rules
 * Config rules (data) compiled once at start into matchers. The mechanism matches the first
 * rule for each request (`matchRule`); the built-in policy interprets its actions.
 */
import { createHmac } from 'node:crypto'
import picomatch from 'picomatch'
import type { HeaderEdits } from './types.js'
import type { ReadonlyHeaderList } from '../http-cache/header-list.js'
import { getAll } from '../http-cache/header-list.js'

export interface CompiledRule {
  readonly name: string
  readonly index: number
  readonly matches: (req: { method: string; host: string; path: string; headers: ReadonlyHeaderList }) => boolean
  readonly ttlMs?: number
  readonly graceMs?: number
  readonly keepMs?: number
  readonly pass?: boolean
  readonly cache?: boolean
  readonly perUser?: { readonly cookie: string } | { readonly header: string }
  readonly tags?: readonly string[]
  readonly esi?: boolean
  readonly requestHeaders?: HeaderEdits
  readonly responseHeaders?: HeaderEdits
  readonly key?: {
    readonly query?: 'keep' | 'drop' | 'sort'
    readonly dropParams?: readonly RegExp[]
    readonly vary?: readonly string[]
  }
}

/** A cookie or parameter name pattern: exact, with `*` standing for any run of characters. */
export function namePattern(pattern: string): RegExp {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')
  return new RegExp(`^${escaped}$`)
}

/** Parses the Cookie field lines into name/value pairs (RFC 6265 §5.4). */
export function parseCookies(headers: ReadonlyHeaderList): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (const line of getAll(headers, 'cookie')) {
    for (const pair of line.split(';')) {
      const trimmed = pair.trim()
      if (!trimmed) continue
      const at = trimmed.indexOf('=')
      out.push(at < 0 ? [trimmed, ''] : [trimmed.slice(0, at).trim(), trimmed.slice(at + 1).trim()])
    }
  }
  return out
}

export interface RuleInput {
  name?: string
  match?: {
    host?: string | string[]
    methods?: string[]
    path?: string | string[]
    pathRegex?: string
    headers?: Record<string, string | boolean>
    cookies?: Record<string, string | boolean>
  }
  ttlMs?: number
  graceMs?: number
  keepMs?: number
  pass?: boolean
  cache?: boolean
  perUser?: { cookie: string } | { header: string }
  tags?: string[]
  esi?: boolean
  requestHeaders?: HeaderEdits
  responseHeaders?: HeaderEdits
  key?: { query?: 'keep' | 'drop' | 'sort'; dropParams?: string[]; vary?: string[] }
}

export function compileRule(input: RuleInput, index: number): CompiledRule {
  const m = input.match ?? {}
  const hosts = m.host === undefined ? undefined : (Array.isArray(m.host) ? m.host : [m.host]).map((h) => picomatch(h.toLowerCase()))
  const methods = m.methods ? new Set(m.methods) : undefined
  const paths = m.path === undefined ? undefined : (Array.isArray(m.path) ? m.path : [m.path]).map(globMatcher)
  const pathRegex = m.pathRegex === undefined ? undefined : new RegExp(m.pathRegex)
  const headers = m.headers ? Object.entries(m.headers).map(([k, v]) => [k.toLowerCase(), v] as const) : undefined
  const cookies = m.cookies ? Object.entries(m.cookies).map(([k, v]) => [namePattern(k), v] as const) : undefined
  const matches: CompiledRule['matches'] = (req) => {
    if (methods && !methods.has(req.method)) return false
    if (hosts && !hosts.some((h) => h(req.host.toLowerCase().replace(/:\d+$/, '')))) return false
    if (paths || pathRegex) {
      const query = req.path.indexOf('?')
      const pathOnly = query < 0 ? req.path : req.path.slice(0, query)
      if (paths && !paths.some((p) => p(pathOnly))) return false
      if (pathRegex && !pathRegex.test(req.path)) return false
    }
    if (headers) {
      for (const [name, want] of headers) {
        const values = getAll(req.headers, name)
        if (want === true ? values.length === 0 : want === false ? values.length > 0 : !values.includes(want)) return false
      }
    }
    if (cookies) {
      const jar = parseCookies(req.headers)
      for (const [pattern, want] of cookies) {
        const found = jar.filter(([n]) => pattern.test(n))
        if (want === true ? found.length === 0 : want === false ? found.length > 0 : !found.some(([, v]) => v === want)) return false
      }
    }
    return true
  }
  return {
    name: input.name ?? `rules[${index}]`,
    index,
    matches,
    ttlMs: input.ttlMs,
    graceMs: input.graceMs,
    keepMs: input.keepMs,
    pass: input.pass,
    cache: input.cache,
    perUser: input.perUser,
    tags: input.tags,
    esi: input.esi,
    requestHeaders: input.requestHeaders,
    responseHeaders: input.responseHeaders,
    key: input.key && {
      query: input.key.query,
      dropParams: input.key.dropParams?.map(namePattern),
      vary: input.key.vary?.map((v) => v.toLowerCase()),
    },
  }
}

/** picomatch's own test (the glob itself, or its regex), without the result object it builds per call. */
function globMatcher(glob: string): (path: string) => boolean {
  const re = picomatch.makeRe(glob, { dot: true })
  return (path) => path === glob || re.test(path)
}

/** The first rule matching the request, or undefined. */
export function matchRule(rules: readonly CompiledRule[], req: Parameters<CompiledRule['matches']>[0]): CompiledRule | undefined {
  for (const rule of rules) if (rule.matches(req)) return rule
  return undefined
}

/**
 * The path and query as they are keyed and forwarded: parameters matching `dropParams`
 * removed (tracking parameters such as utm_*, fbclid), the query dropped or sorted when the
 * rule says so.
 */
export function normalisePath(path: string, dropParams: readonly RegExp[], query: 'keep' | 'drop' | 'sort' = 'keep'): string {
  const at = path.indexOf('?')
  if (at < 0) return path
  if (query === 'drop') return path.slice(0, at)
  if (dropParams.length === 0 && query === 'keep') return path
  const pairs = path.slice(at + 1).split('&').filter((pair) => {
    if (!pair) return false
    let name = pair.split('=', 1)[0]!
    try { name = decodeURIComponent(name.replace(/\+/g, ' ')) } catch { /* keep raw */ }
    return !dropParams.some((p) => p.test(name))
  })
  if (query === 'sort') pairs.sort()
  return pairs.length ? `${path.slice(0, at)}?${pairs.join('&')}` : path.slice(0, at)
}

/**
 * recv's routing, shared with purges: the first matching rule and the path as it is keyed,
 * so `PURGE /p?b=2&a=1` finds what `GET /p?b=2&a=1` stored under a rule that sorts the query.
 */
export function routeRequest(
  rules: readonly CompiledRule[], dropParams: readonly RegExp[], req: Parameters<CompiledRule['matches']>[0],
): { rule: CompiledRule | undefined; path: string } {
  const rule = rules.length ? matchRule(rules, req) : undefined
  const key = rule?.key
  const drop = key?.dropParams ? [...dropParams, ...key.dropParams] : dropParams
  return { rule, path: normalisePath(req.path, drop, key?.query) }
}

/** A keyed hash of a user's credential (HMAC-SHA-256): the raw value never enters a key. */
export function userKey(secret: string, value: string): string {
  return createHmac('sha256', secret).update(value).digest('base64url').slice(0, 32)
}
