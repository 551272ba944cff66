/**
 * @module policy/builtin
 * The built-in policy, written with the public policy API as tiny named rules (Varnish's
 * builtin.vcl). Users may reuse each rule on its own. Order matters: the first rule that
 * answers decides.
 */
import { parseCacheControl } from '../http-cache/cache-control.js'
import { canStoreResponse } from '../http-cache/storability.js'
import { getAll, has } from '../http-cache/header-list.js'
import { parseVary } from '../http-cache/vary.js'
import type { BackendResponseAction, CompiledPolicy, Policy, RecvAction, RequestView, ResponseView, Rule } from './types.js'

/**
 * Cookies that never matter to the origin's rendering: analytics, ads and A/B tools read
 * them in the browser. They are ignored when deciding whether a request is a user's, and
 * removed from requests that are looked up, so a stored page can never depend on them.
 */
export const TRACKING_COOKIE_PATTERNS: readonly RegExp[] = [
  /^_ga($|_)/, /^_gid$/, /^_gat/, /^_gcl_/, /^__utm[a-z]$/, /^_fbp$/, /^_fbc$/, /^_hj/, /^_pk_(id|ses|ref|cvar)/,
  /^_clck$/, /^_clsk$/, /^_uetsid$/, /^_uetvid$/, /^mp_/, /^ajs_(anonymous|user)_id$/, /^__hs(c|sc|tc)$/,
  /^hubspotutk$/, /^_dc_gtm_/, /^__qca$/, /^_ttp$/, /^_tt_enable_cookie$/, /^optimizely/, /^_vwo_/, /^_vis_opt_/,
  /^_lfa/, /^_mkto_trk$/, /^_li_/, /^li_(sugr|fat_id)$/, /^_rdt_uuid$/, /^_scid/, /^_pin_unauth$/,
]

export function isTrackingCookie(name: string): boolean {
  return TRACKING_COOKIE_PATTERNS.some((pattern) => pattern.test(name))
}

/** RFC 9111 §3 / §4.4: only GET and HEAD are looked up; every other method is forwarded. */
export const reqMethod: Rule<RequestView, RecvAction> = {
  name: 'reqMethod',
  see: 'RFC 9111 §3, §4.4',
  decide: (req) => (req.method === 'GET' || req.method === 'HEAD' ? undefined : { action: 'pass', detail: 'REQUEST-UNSAFE-METHOD' }),
}

/**
 * A request with a cookie that is not a tracking cookie is a user's: pass. Tracking cookies
 * are dropped from requests that are looked up.
 */
export const reqCookie: Rule<RequestView, RecvAction> = {
  name: 'reqCookie',
  see: 'DESIGN.md §1.2 (never leak); Varnish builtin.vcl vcl_req_cookie',
  decide: (req) => {
    const lines = getAll(req.headers, 'cookie')
    if (lines.length === 0) return undefined
    const kept: string[] = []
    for (const line of lines) {
      for (const pair of line.split(';')) {
        const trimmed = pair.trim()
        if (!trimmed) continue
        const name = trimmed.split('=', 1)[0]!.trim()
        if (!isTrackingCookie(name)) kept.push(trimmed)
      }
    }
    if (kept.length > 0) return { action: 'pass', detail: 'REQUEST-COOKIE' }
    return { action: 'hash', cookie: null }
  },
}

/** RFC 9111 §3: the storage rules of the RFC (request and response no-store, private, Authorization §3.5, status, freshness). */
export const berespRfc9111: Rule<ResponseView, BackendResponseAction> = {
  name: 'berespRfc9111',
  see: 'RFC 9111 §3, §3.5, §5.2.2',
  decide: (res) => {
    const verdict = canStoreResponse({
      method: res.request.method, status: res.status, cc: res.cc, isTargeted: res.isTargeted,
      headers: res.headers, requestHasAuthorization: has(res.request.headers, 'authorization'),
      requestNoStore: parseCacheControl(getAll(res.request.headers, 'cache-control')).noStore,
    })
    if (verdict.canStore) return undefined
    // a response that must not be stored is not handed to other clients either
    return { action: 'dontStore', detail: verdict.detail, isShareable: false }
  },
}

/** A response that sets a cookie belongs to one client: never stored, never shared. */
export const berespSetCookie: Rule<ResponseView, BackendResponseAction> = {
  name: 'berespSetCookie',
  see: 'DESIGN.md §1.2 (never leak); Varnish builtin.vcl vcl_beresp_cookie',
  decide: (res) => (has(res.headers, 'set-cookie') || has(res.headers, 'set-cookie2')
    ? { action: 'dontStore', detail: 'RESPONSE-SET-COOKIE', isShareable: false } : undefined),
}

/** RFC 9111 §4.1: `Vary: *` never matches a later request. */
export const berespVaryStar: Rule<ResponseView, BackendResponseAction> = {
  name: 'berespVaryStar',
  see: 'RFC 9111 §4.1',
  decide: (res) => (parseVary(res.headers) === '*' ? { action: 'dontStore', detail: 'VARY-STAR', isShareable: false } : undefined),
}

export const BUILTIN_RECV_RULES = [reqMethod, reqCookie] as const
export const BUILTIN_BACKEND_RESPONSE_RULES = [berespSetCookie, berespVaryStar, berespRfc9111] as const

function firstAnswer<In, Out>(rules: ReadonlyArray<Rule<In, Out>>, input: In): Out | undefined {
  for (const rule of rules) {
    const out = rule.decide(input)
    if (out !== undefined) return out
  }
  return undefined
}

/** The built-in policy; every hook always answers. */
export const builtinPolicy: CompiledPolicy = {
  recv: (req) => firstAnswer(BUILTIN_RECV_RULES, req) ?? { action: 'hash' },
  backendResponse: (res) => firstAnswer(BUILTIN_BACKEND_RESPONSE_RULES, res) ?? { action: 'store' },
}

/** Composes a user policy over the built-in one: the user's hook first, the built-in on no answer. */
export function composePolicy(user: Policy | undefined): CompiledPolicy {
  if (!user) return builtinPolicy
  return {
    recv: user.recv ? (req) => user.recv!(req) ?? builtinPolicy.recv(req) : builtinPolicy.recv,
    backendResponse: user.backendResponse
      ? (res) => user.backendResponse!(res) ?? builtinPolicy.backendResponse(res)
      : builtinPolicy.backendResponse,
  }
}
