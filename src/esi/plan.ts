/**
 * @module esi/plan
 * Replays a parsed ESI page (esi/parser) for one client request: evaluates every `choose`
 * (§3.3, with the expressions of §5), substitutes `esi:vars` references (§3.7, §4) and the
 * variables in include `src`/`alt` (§3.1), resolves relative include URLs against the template
 * (§3.1), and returns the ordered plan that delivery executes: text, include slots and `try`
 * blocks. Pure: no I/O, never throws. esi/assemble is a reference executor of the plan.
 *
 * API for the integrator:
 * ```ts
 * const plan = buildPlan(doc, { headers: [['cookie', 'sid=1'], ['host', 'shop.test']], url: '/p/1?q=x' })
 * plan.items      // PlanItem[]: { type: 'text', bytes } | PlanInclude | { type: 'try', attempt, except }
 * plan.includes   // every PlanInclude in document order (ids are indexes), except-branch ones flagged isFallback
 * plan.warnings   // bad expressions, bad URLs, include limit (log them; the page is still served)
 * ```
 * A `PlanInclude` carries `urls` (the resolved `src`, then `alt` when present and valid: try
 * them in order), `continueOnError` (`onerror="continue"`: a failure writes nothing),
 * `isFallback` (inside an `except`: only needed if its `attempt` fails, so fetch it then),
 * and `refused` when it must fail without any fetch (over a limit, or no valid URL).
 *
 * Failure semantics delivery must apply (§3.1, §3.4): an include fails when every URL failed
 * (or it is refused); with `continueOnError` it writes nothing; otherwise the failure goes to
 * the innermost enclosing `try`, whose whole `attempt` output is then replaced by its `except`
 * output; outside any `try` the page fails (§3.1: "a HTTP status code greater than 400"; the
 * integrator's configurable fallback).
 *
 * Substitution safety: values are text, never markup — the plan holds bytes, which are never
 * parsed again, so a cookie holding `<esi:include …>` cannot inject ESI. In `esi:vars` text the
 * value is HTML-escaped by default (`escapeVars: 'html'`; `'none'` writes it raw, the literal
 * ESI 1.0 behaviour): `$(QUERY_STRING{q})` in a page must not be a reflected-XSS hole. In include
 * URLs the value is percent-encoded except for `A-Z a-z 0-9 - . _ ~ ! $ ' ( ) * , ; : @ /`, so a
 * value cannot add query parameters (`&`, `=`, `?`), a fragment, spaces or line breaks.
 * Relative URLs resolve against `templateUrl` (default: the request's URL) and come out as
 * path + query; absolute ones (another host) come out whole; only http and https are valid.
 */
import { evaluateExpression } from './expression.js'
import type { EsiDocument, EsiNode } from './parser.js'
import { createVariableContext, variableText, type RequestView, type Template, type VariableContext } from './variables.js'
import type { EsiWarning, EsiWarningCode } from './warnings.js'

export interface PlanText { type: 'text'; bytes: Buffer }
export interface PlanInclude {
  type: 'include'
  /** Index in `EsiPlan.includes`. */
  id: number
  /** URLs to try in order: the resolved `src`, then `alt`. Empty when `refused`. */
  urls: string[]
  continueOnError: boolean
  /** Byte offset of the tag in the template, for logs. */
  offset: number
  /** Inside an `except` branch: needed only when that branch is taken. */
  isFallback: boolean
  /** Set when the include must fail without being fetched, with the reason. */
  refused?: string
}
export interface PlanTry { type: 'try'; attempt: PlanItem[]; except: PlanItem[]; offset: number }
export type PlanItem = PlanText | PlanInclude | PlanTry

export interface EsiPlan {
  items: PlanItem[]
  includes: PlanInclude[]
  warnings: EsiWarning[]
}

export interface PlanOptions {
  /** The template's URL (path with query, or absolute) that relative includes resolve against. Default: `request.url`. */
  templateUrl?: string
  /** Most includes in this plan (those in taken branches); later ones are refused. Default: no limit beyond the parser's. */
  maxIncludes?: number
  /** How `esi:vars` writes values: `'html'` (default) escapes `& < > " '`; `'none'` writes them as they are. */
  escapeVars?: 'html' | 'none'
}

const LOCAL_BASE = 'http://esi.invalid'

/** Percent-encodes a substituted value for a URL (see the module comment for the kept characters). */
export function encodeUrlValue(value: string): string {
  const wellFormed = value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
  return encodeURIComponent(wellFormed).replace(/%(2F|3A|40|2C|3B|24)/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'))
}

/** Resolves an include URL (§3.1: relative to the template). `undefined` when not a valid http(s) URL. */
export function resolveIncludeUrl(raw: string, templateUrl: string): string | undefined {
  try {
    const base = new URL(templateUrl, LOCAL_BASE)
    const url = new URL(raw, base)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
    url.hash = ''
    return url.origin === LOCAL_BASE ? url.pathname + url.search : url.href
  } catch {
    return undefined
  }
}

function substitute(template: Template, ctx: VariableContext): string {
  let out = ''
  for (const part of template) out += typeof part === 'string' ? part : encodeUrlValue(variableText(part, ctx))
  return out
}

class Planner {
  readonly includes: PlanInclude[] = []
  readonly warnings: EsiWarning[] = []
  private fetchable = 0
  private isLimitReported = false
  private readonly ctx: VariableContext
  private readonly templateUrl: string

  constructor(request: RequestView, private readonly options: PlanOptions) {
    this.ctx = createVariableContext(request)
    this.templateUrl = options.templateUrl ?? request.url
  }

  private warn(code: EsiWarningCode, message: string, offset: number): void {
    this.warnings.push({ code, message, offset })
  }

  walk(nodes: readonly EsiNode[], out: PlanItem[], isFallback: boolean): PlanItem[] {
    for (const node of nodes) {
      switch (node.type) {
        case 'text':
          pushText(out, node.bytes)
          break
        case 'var': {
          const value = variableText(node.ref, this.ctx)
          pushText(out, Buffer.from(this.options.escapeVars === 'none' ? value : escapeHtml(value), 'utf8'))
          break
        }
        case 'include':
          out.push(this.include(node, isFallback))
          break
        case 'try': {
          const attempt = this.walk(node.attempt, [], isFallback)
          const except = this.walk(node.except, [], true)
          if (attempt.length > 0 || except.length > 0) out.push({ type: 'try', attempt: attempt.map(finalizeItem), except: except.map(finalizeItem), offset: node.offset })
          break
        }
        case 'choose': {
          let chosen = node.otherwise
          for (const when of node.whens) {
            const result = evaluateExpression(when.test, this.ctx)
            if (result.error) this.warn('bad-expression', `esi:when: ${result.error}; taken as false`, when.offset)
            if (result.value) { chosen = when.children; break }
          }
          if (chosen) this.walk(chosen, out, isFallback)
          break
        }
      }
    }
    return out
  }

  private include(node: Extract<EsiNode, { type: 'include' }>, isFallback: boolean): PlanInclude {
    const slot: PlanInclude = { type: 'include', id: this.includes.length, urls: [], continueOnError: node.continueOnError, offset: node.offset, isFallback }
    this.includes.push(slot)
    if (node.isOverLimit) {
      slot.refused = 'over the document\'s include limit (maxIncludes)'
      return slot
    }
    for (const [what, template] of [['src', node.src], ['alt', node.alt]] as const) {
      if (!template) continue
      const raw = substitute(template, this.ctx)
      const url = resolveIncludeUrl(raw, this.templateUrl)
      if (url === undefined) this.warn('bad-include-url', `esi:include ${what}="${raw}" is not a valid http(s) URL`, node.offset)
      else slot.urls.push(url)
    }
    if (slot.urls.length === 0) {
      slot.refused = 'no valid URL'
      return slot
    }
    const max = this.options.maxIncludes
    if (max !== undefined && this.fetchable >= max) {
      slot.refused = `over the page's include limit (${max})`
      slot.urls = []
      if (!this.isLimitReported) {
        this.isLimitReported = true
        this.warn('too-many-includes', `more than ${max} includes in this page; this one and later ones are refused`, node.offset)
      }
      return slot
    }
    this.fetchable++
    return slot
  }
}

/** Text pieces are gathered as arrays and joined once (no quadratic concatenation). */
interface TextPieces { type: 'pieces'; pieces: Buffer[] }
function pushText(out: PlanItem[], bytes: Buffer): void {
  if (bytes.length === 0) return
  const last = out[out.length - 1] as PlanItem | TextPieces | undefined
  if (last?.type === 'pieces') last.pieces.push(bytes)
  else if (last?.type === 'text') out[out.length - 1] = { type: 'pieces', pieces: [last.bytes, bytes] } as unknown as PlanItem
  else out.push({ type: 'text', bytes })
}
function finalizeItem(item: PlanItem): PlanItem {
  const any = item as PlanItem | TextPieces
  return any.type === 'pieces' ? { type: 'text', bytes: Buffer.concat(any.pieces) } : item
}

/** Builds the delivery plan of a parsed page for one request. Never throws. */
export function buildPlan(doc: EsiDocument | readonly EsiNode[], request: RequestView, options: PlanOptions = {}): EsiPlan {
  const planner = new Planner(request, options)
  const nodes = Array.isArray(doc) ? (doc as readonly EsiNode[]) : (doc as EsiDocument).nodes
  const items = planner.walk(nodes, [], false).map(finalizeItem)
  return { items, includes: planner.includes, warnings: planner.warnings }
}

/** The includes in a list of plan items, nested ones included, in document order. */
export function includesOf(items: readonly PlanItem[]): PlanInclude[] {
  const out: PlanInclude[] = []
  const walk = (list: readonly PlanItem[]): void => {
    for (const item of list) {
      if (item.type === 'include') out.push(item)
      else if (item.type === 'try') { walk(item.attempt); walk(item.except) }
    }
  }
  walk(items)
  return out
}
