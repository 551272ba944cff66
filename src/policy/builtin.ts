/**
 * @module policy/builtin
 * The built-in policy, written with the public policy API as small named rules (Varnish's
 * builtin.vcl). It also interprets the config's rules (data). Each rule can be reused on its
 * own; in each hook the first rule that answers decides.
 */
import { ERRORS, type ErrorCode } from '../errors.js'
import { parseCacheControl } from '../http-cache/cache-control.js'
import { getAll, has } from '../http-cache/header-list.js'
import { canStoreResponse, forbidsServingStale } from '../http-cache/storability.js'
import { parseVary } from '../http-cache/vary.js'
import { parseCookies, userKey } from './rules.js'
import type {
  BackendErrorAction, BackendErrorView, BackendRequestAction, BackendResponseAction, CompiledPolicy, DeliverAction, HashAction, HeaderEdits,
  HitAction, MissAction, PassAction, Policy, RecvAction, RequestView, ResponseView,
} from './types.js'

export { TRACKING_COOKIE_PATTERNS, isTrackingCookie } from './cookies.js'

/** What the built-in rules need from the resolved config. */
export interface BuiltinSettings {
  readonly cookies: { readonly ignore: readonly RegExp[]; readonly session: readonly RegExp[]; readonly unknown: 'pass' | 'ignore' }
  readonly perUserSecret: string
  /** how long a stale object may stand in for a failing origin when it has no stale-if-error */
  readonly keepForErrorsMs: number
}

function withEdits(a: HeaderEdits | undefined, b: HeaderEdits | undefined): HeaderEdits | undefined {
  if (!a) return b
  if (!b) return a
  return { set: { ...a.set, ...b.set }, unset: [...(a.unset ?? []), ...(b.unset ?? [])] }
}

// ── recv ────────────────────────────────────────────────────────────────────

/** RFC 9111 §3 / §4.4: only GET and HEAD are looked up; every other method is forwarded. */
export function reqMethod(req: RequestView): RecvAction | undefined {
  return req.method === 'GET' || req.method === 'HEAD' ? undefined : { action: 'pass', detail: 'REQUEST-UNSAFE-METHOD', edits: req.rule?.requestHeaders }
}

/** A config rule with `pass: true`. */
export function reqRulePass(req: RequestView): RecvAction | undefined {
  return req.rule?.pass ? { action: 'pass', detail: 'RULE-PASS', edits: req.rule.requestHeaders } : undefined
}

/**
 * Cookies decide whether a request is a user's (DESIGN.md §1.2, never leak; Varnish
 * builtin.vcl vcl_req_cookie):
 * - ignored cookies (tracking) are removed from a looked-up request;
 * - on a `cache` rule every cookie is removed;
 * - on a `perUser` rule keyed by a cookie, that cookie is kept (it is hashed into the key);
 *   sent twice, the request is passed (which one the app uses is not known);
 * - any other cookie (a session cookie, or an unknown one unless `cookies.unknown: ignore`)
 *   makes the request a user's: passed.
 */
export function reqCookie(req: RequestView, settings: BuiltinSettings): RecvAction | undefined {
  const edits = req.rule?.requestHeaders
  if (!has(req.headers, 'cookie')) return undefined
  if (req.rule?.cache) return { action: 'hash', edits: withEdits(edits, { unset: ['cookie'] }) }
  const perUserCookie = req.rule?.perUser && 'cookie' in req.rule.perUser ? req.rule.perUser.cookie : undefined
  const kept: string[] = []
  for (const [name, value] of parseCookies(req.headers)) {
    if (name === perUserCookie) {
      // the key cookie twice: frameworks differ on which one wins (first or last), so the
      // page could be rendered for one value and keyed by the other — never stored
      if (kept.length) return { action: 'pass', detail: 'REQUEST-COOKIE', edits }
      kept.push(`${name}=${value}`)
      continue
    }
    if (settings.cookies.ignore.some((p) => p.test(name))) continue
    const isSession = settings.cookies.session.some((p) => p.test(name))
    if (isSession || settings.cookies.unknown === 'pass') return { action: 'pass', detail: 'REQUEST-COOKIE', edits }
  }
  return { action: 'hash', edits: withEdits(edits, kept.length ? { set: { cookie: kept.join('; ') } } : { unset: ['cookie'] }) }
}

// ── hash ────────────────────────────────────────────────────────────────────

/**
 * Extra key parts from the rule: the values of `key.vary` headers, and for a `perUser` rule
 * a keyed hash (HMAC) of the user's cookie or header, never the raw value. The hash is also
 * the store partition that bounds one user's entries.
 */
export function hashRule(req: RequestView, settings: BuiltinSettings): HashAction | undefined {
  const rule = req.rule
  if (!rule?.key?.vary && !rule?.perUser) return undefined
  const keyParts: string[] = []
  for (const name of rule.key?.vary ?? []) keyParts.push(`${name}=${getAll(req.headers, name).join(',')}`)
  let partition: string | undefined
  if (rule.perUser) {
    let credential: string | undefined
    if ('cookie' in rule.perUser) {
      const name = rule.perUser.cookie
      credential = parseCookies(req.headers).find(([n]) => n === name)?.[1]
    } else {
      const lines = getAll(req.headers, rule.perUser.header.toLowerCase())
      credential = lines.length ? lines.join(',') : undefined
    }
    if (credential) {
      partition = userKey(settings.perUserSecret, credential)
      keyParts.push(`user=${partition}`)
    } else {
      keyParts.push('user=-')
    }
  }
  return { action: 'lookup', keyParts, partition }
}

// ── backendResponse ─────────────────────────────────────────────────────────

/** A response that sets a cookie belongs to one client: never stored, never shared (unless a `cache` rule strips it). */
export function berespSetCookie(res: ResponseView): BackendResponseAction | undefined {
  if (res.request.rule?.cache) return undefined
  return has(res.headers, 'set-cookie') || has(res.headers, 'set-cookie2')
    ? { action: 'dontStore', detail: 'RESPONSE-SET-COOKIE', isShareable: false } : undefined
}

/** RFC 9111 §4.1: `Vary: *` never matches a later request. */
export function berespVaryStar(res: ResponseView): BackendResponseAction | undefined {
  return parseVary(res.headers) === '*' ? { action: 'dontStore', detail: 'VARY-STAR', isShareable: false } : undefined
}

/**
 * RFC 9111 §3: the storage rules of the RFC (request and response no-store, private,
 * Authorization §3.5, status, freshness). On a `perUser` route, when the request carried the
 * user's credential, the entry is that user's alone, so `private` and Authorization do not
 * forbid it (the key holds that user's hash).
 */
export function berespRfc9111(res: ResponseView): BackendResponseAction | undefined {
  const rule = res.request.rule
  // only a key that holds this user's credential is private to them: a request on a perUser
  // route without it shares the anonymous entry, where private answers must not go
  const isPerUser = rule?.perUser !== undefined && res.request.partition !== undefined
  const verdict = canStoreResponse({
    method: res.request.method, status: res.status, cc: res.cc, isTargeted: res.isTargeted, headers: res.headers,
    requestHasAuthorization: has(res.request.headers, 'authorization'),
    requestNoStore: parseCacheControl(getAll(res.request.headers, 'cache-control')).noStore,
    isPrivateCache: isPerUser,
    hasConfiguredTtl: rule?.ttlMs !== undefined,
  })
  if (verdict.canStore) return undefined
  // a response that must not be stored is not handed to other clients either
  return { action: 'dontStore', detail: verdict.detail, isShareable: false }
}

/** Applies the rule's ttl, grace, keep and tags, and strips Set-Cookie on a `cache` rule. */
export function berespRule(res: ResponseView): BackendResponseAction {
  const rule = res.request.rule
  if (!rule) return { action: 'store' }
  return {
    action: 'store', ttlMs: rule.ttlMs, graceMs: rule.graceMs, keepMs: rule.keepMs, tags: rule.tags,
    unset: rule.cache ? ['set-cookie', 'set-cookie2'] : undefined,
  }
}

// ── backendError ────────────────────────────────────────────────────────────

/**
 * A stale object stands in for a failing origin unless a directive forbids serving it stale
 * (RFC 9111 §4.2.4), within its stale-if-error window (RFC 5861 §4), else within the
 * configured keep-for-errors window.
 */
export function errStale(err: BackendErrorView, settings: BuiltinSettings): BackendErrorAction | undefined {
  const stale = err.stale
  if (!stale || forbidsServingStale(stale.cc)) return undefined
  const windowMs = stale.cc.staleIfError !== undefined ? stale.cc.staleIfError * 1000 : settings.keepForErrorsMs
  return stale.staleForMs < windowMs ? { action: 'serveStale' } : undefined
}

/**
 * deliver: the matching rule's response header edits, nothing else. The state machine knows
 * this hook by identity: with it, a hit whose rule edits nothing is sent from its prepared head
 * (fsm/deliver.ts), no field list built per response.
 */
export const deliverRuleEdits = (req: RequestView): DeliverAction => ({ action: 'deliver', edits: req.rule?.responseHeaders })

/** The built-in answers that never vary: one frozen object each, not one per request. */
const DELIVER: HitAction = Object.freeze({ action: 'deliver' })
const FETCH: MissAction & PassAction & BackendRequestAction = Object.freeze({ action: 'fetch' })
const LOOKUP: HashAction = Object.freeze({ action: 'lookup' })

/** Builds the built-in policy for a config; every hook always answers. */
export function createBuiltinPolicy(settings: BuiltinSettings): CompiledPolicy {
  return {
    recv: (req) => reqMethod(req) ?? reqRulePass(req) ?? reqCookie(req, settings) ?? { action: 'hash', edits: req.rule?.requestHeaders },
    hash: (req) => hashRule(req, settings) ?? LOOKUP,
    hit: () => DELIVER,
    miss: () => FETCH,
    pass: () => FETCH,
    deliver: deliverRuleEdits,
    backendRequest: () => FETCH,
    backendResponse: (res) => berespSetCookie(res) ?? berespVaryStar(res) ?? berespRfc9111(res) ?? berespRule(res),
    backendError: (err) => errStale(err, settings) ?? (err.code ? { action: 'synth', status: ERRORS[err.code as ErrorCode]?.statusCode ?? 502, reason: '' } : { action: 'deliverError' }),
  }
}

/** Composes a user policy over the built-in one: the user's hook first, the built-in on no answer (Varnish's model). */
export function composePolicy(user: Policy | undefined, builtin: CompiledPolicy): CompiledPolicy {
  if (!user) return builtin
  const layer = <K extends keyof Policy>(name: K): CompiledPolicy[K] => {
    const mine = user[name] as ((...args: unknown[]) => unknown) | undefined
    const base = builtin[name] as (...args: unknown[]) => unknown
    if (typeof mine !== 'function') return base as CompiledPolicy[K]
    return ((...args: unknown[]) => mine(...args) ?? base(...args)) as CompiledPolicy[K]
  }
  // the built-in key parts (a perUser rule's HMAC, key.vary) are always kept: a user's hash
  // hook adds to the key, it can never drop one user's partition and share their copy
  const userHash = user.hash
  const hash: CompiledPolicy['hash'] = typeof userHash === 'function'
    ? (req) => {
      const mine = userHash(req)
      const base = builtin.hash(req)
      if (!mine) return base
      return { action: 'lookup', keyParts: [...(mine.keyParts ?? []), ...(base.keyParts ?? [])], partition: base.partition ?? mine.partition }
    }
    : builtin.hash
  return {
    recv: layer('recv'), hash, hit: layer('hit'), miss: layer('miss'), pass: layer('pass'), deliver: layer('deliver'),
    backendRequest: layer('backendRequest'), backendResponse: layer('backendResponse'), backendError: layer('backendError'),
  }
}
