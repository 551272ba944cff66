/**
 * @module invalidate/command
 * The admin API's purge request (`POST /purge`, JSON) and the proxy port's `PURGE`, turned
 * into one InvalidationCommand. Everything is checked before anything is applied: a request
 * with one bad field (an unknown key, an empty tag, a relative URL, a pattern that could
 * backtrack) is refused whole with a 400 naming the field, and nothing is invalidated.
 */
import { z } from 'zod'
import type { ResolvedConfig } from '../config/resolve.js'
import { makeCacheKey } from '../context.js'
import { routeRequest } from '../policy/rules.js'
import { resourceOfKey } from '../store/types.js'
import type { BanSpec } from './bans.js'
import type { InvalidationCommand } from './invalidator.js'
import { compileSafePattern } from './safe-regex.js'
import { MAX_TAG_LENGTH } from './tags.js'

/** Items (URLs, tags, bans) one purge request may carry. */
export const MAX_PURGE_ITEMS = 1000
/** Bytes of a purge request body. */
export const MAX_PURGE_BODY_BYTES = 1 << 20

const tag = z.string()
  .min(1, { message: 'a tag is not empty' })
  .max(MAX_TAG_LENGTH, { message: `a tag is at most ${MAX_TAG_LENGTH} characters` })
  .regex(/^[^\s,]+$/, { message: 'a tag has no spaces or commas' })
/** A host as keys hold it: lower-cased, without a default port (keys drop :80 and :443). */
const hostName = z.string()
  .transform((h) => h.toLowerCase().replace(/:(?:80|443)$/, ''))
  .pipe(z.string().regex(/^(?:[a-z0-9._~-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/, {
    message: 'a host is a name or address with an optional :port, e.g. shop.example',
  }))
const pattern = z.string().superRefine((value, ctx) => {
  const compiled = compileSafePattern(value)
  if (!compiled.ok) ctx.addIssue({ code: 'custom', message: compiled.reason })
})

export const purgeRequestSchema = z.strictObject({
  /** absolute URLs: every stored variant of each (both schemes, every user) */
  urls: z.array(z.string()).max(MAX_PURGE_ITEMS).optional(),
  /** surrogate keys */
  tags: z.array(tag).max(MAX_PURGE_ITEMS).optional(),
  /** bans by path prefix (query included) */
  prefixes: z.array(z.string().startsWith('/', { message: 'a prefix is a path and starts with /' })).max(MAX_PURGE_ITEMS).optional(),
  /** bans by regular expression over the path and query */
  patterns: z.array(pattern).max(MAX_PURGE_ITEMS).optional(),
  /** bans of whole sites */
  hosts: z.array(hostName).max(MAX_PURGE_ITEMS).optional(),
  /** limits the prefixes and patterns to one site */
  host: hostName.optional(),
  /** mark stale (served within grace, revalidated) rather than remove */
  soft: z.boolean().optional(),
  /** answer once the bans have been swept, with their counts */
  wait: z.boolean().optional(),
})

export type PurgeRequest = z.infer<typeof purgeRequestSchema>

export type ParsedPurge = { ok: true; command: InvalidationCommand; wait: boolean } | { ok: false; errors: string[] }

/**
 * The resource (see store/types resourceOfKey) an absolute URL is stored under, or an error.
 * The path is taken as written, not WHATWG-normalised (which would percent-encode quotes and
 * braces and resolve dot segments): a GET is keyed by its raw request target, so the purge
 * must be too.
 */
export function resourceForUrl(config: ResolvedConfig, text: string): string | Error {
  const m = /^(https?):\/\/([^/?#]*)([^#]*)(#.*)?$/i.exec(text)
  if (!m) {
    return /^[a-z][a-z0-9+.-]*:/i.test(text) && !/^https?:/i.test(text)
      ? new Error(`${JSON.stringify(text)}: only http and https URLs are cached`)
      : new Error(`${JSON.stringify(text)} is not an absolute URL; give http://HOST/PATH`)
  }
  const [, schemeText, authority, rawPath, fragment] = m
  if (authority!.includes('@') || fragment !== undefined) return new Error(`${JSON.stringify(text)}: no credentials or fragment in a purge URL`)
  if (!/^(?:[a-zA-Z0-9\-._~!$&'()*+,;=%]+|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/.test(authority!)) {
    return new Error(`${JSON.stringify(text)}: the host is not valid`)
  }
  const scheme = schemeText!.toLowerCase() === 'https' ? 'https' : 'http'
  const target = rawPath === '' ? '/' : rawPath!.startsWith('?') ? `/${rawPath}` : rawPath!
  const request = { method: 'GET', host: authority!, path: target, headers: [['host', authority!]] as const }
  const { path } = routeRequest(config.rules, config.dropParams, request)
  return resourceOfKey(makeCacheKey(scheme, authority!, path))
}

/** Validates a parsed JSON body; every problem is reported, none applied. */
export function parsePurgeRequest(config: ResolvedConfig, body: unknown): ParsedPurge {
  const parsed = purgeRequestSchema.safeParse(body)
  if (!parsed.success) {
    return {
      ok: false,
      errors: parsed.error.issues.map((issue) => {
        const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '')
        if (issue.code === 'unrecognized_keys') {
          return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}; use urls, tags, prefixes, patterns, hosts, host, soft, wait`
        }
        return `${path || 'body'}: ${issue.code === 'invalid_type' ? `expected ${issue.expected}` : issue.message}`
      }),
    }
  }
  const request = parsed.data
  const errors: string[] = []
  const resources: string[] = []
  request.urls?.forEach((text, i) => {
    const resource = resourceForUrl(config, text)
    if (resource instanceof Error) errors.push(`urls[${i}]: ${resource.message}`)
    else resources.push(resource)
  })
  const bans: BanSpec[] = [
    ...(request.hosts ?? []).map((host) => ({ host })),
    ...(request.prefixes ?? []).map((prefix) => ({ host: request.host, prefix })),
    ...(request.patterns ?? []).map((pattern) => ({ host: request.host, pattern })),
  ]
  if (request.host !== undefined && !request.prefixes?.length && !request.patterns?.length) {
    errors.push('host: limits prefixes and patterns to one site; to ban a whole site use "hosts": ["' + request.host + '"]')
  }
  const total = resources.length + (request.tags?.length ?? 0) + bans.length
  if (errors.length === 0 && total === 0) errors.push('nothing to purge: give urls, tags, prefixes, patterns or hosts')
  if (total > MAX_PURGE_ITEMS) errors.push(`${total} items in one request; send at most ${MAX_PURGE_ITEMS}`)
  if (errors.length) return { ok: false, errors }
  return {
    ok: true,
    wait: request.wait ?? false,
    command: { mode: request.soft ? 'soft' : 'hard', resources, tags: request.tags ?? [], bans },
  }
}
