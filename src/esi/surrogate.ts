/**
 * @module esi/surrogate
 * ESI activation: which responses Lacquer processes. Lacquer tells the origin it can do ESI
 * (`Surrogate-Capability: lacquer="ESI/1.0"`, Edge Architecture Specification 1.0 §2.2) and
 * processes a response only when it asks for it: `Surrogate-Control: content="ESI/1.0"`
 * (same spec §3; the directive untargeted, or targeted at `;lacquer`), or a config rule with
 * `esi: true` on a textual response. Anything else is never processed: a page that did not
 * ask may carry `<esi:` text of its own (an article about ESI, user content).
 */
import type { ProxyContext } from '../context.js'
import { type HeaderList, type ReadonlyHeaderList, getAll, getFirst, has, removeHeader } from '../http-cache/header-list.js'
import type { RequestView } from '../policy/types.js'

/** Lacquer's device token in Surrogate-Capability and in targeted Surrogate-Control directives. */
export const SURROGATE_DEVICE = 'lacquer'
export const SURROGATE_CAPABILITY = `${SURROGATE_DEVICE}="ESI/1.0"`

/** Content codings Lacquer decodes to process ESI (node:zlib). */
export type DecodableCoding = 'gzip' | 'br' | 'deflate'

export interface EsiActivation {
  /** what asked for it */
  readonly by: 'surrogate-control' | 'rule'
  /** the origin body's content coding, decoded before parsing; undefined for identity */
  readonly coding?: DecodableCoding
}

/**
 * The directives of Surrogate-Control meant for Lacquer (spec §3: `directive[;device]`; a
 * directive without a device token applies to every surrogate). Commas inside quotes do not split.
 */
export function surrogateDirectives(headers: ReadonlyHeaderList, device = SURROGATE_DEVICE): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of getAll(headers, 'surrogate-control')) {
    for (const part of line.match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
      const m = /^\s*([A-Za-z][\w-]*)\s*(?:=\s*("[^"]*"|[^;\s]*))?\s*(?:;\s*([^\s]+))?\s*$/.exec(part)
      if (!m) continue
      const target = m[3]?.toLowerCase()
      if (target !== undefined && target !== device) continue
      const name = m[1]!.toLowerCase()
      // a directive targeted at this device beats an untargeted one of the same name
      if (out.has(name) && target === undefined) continue
      out.set(name, (m[2] ?? '').replace(/^"|"$/g, ''))
    }
  }
  return out
}

/** Whether `content="…"` lists ESI/1.0 (capabilities are space-separated, spec §3). */
export function asksForEsi(headers: ReadonlyHeaderList): boolean {
  if (!has(headers, 'surrogate-control')) return false
  const content = surrogateDirectives(headers).get('content')
  return content !== undefined && content.split(/\s+/).some((c) => c.toUpperCase() === 'ESI/1.0')
}

/** A rule's `esi: true` applies to textual bodies only (HTML, XML, text): never to images or archives. */
function isTextual(headers: ReadonlyHeaderList): boolean {
  const type = getFirst(headers, 'content-type')?.split(';', 1)[0]!.trim().toLowerCase()
  return type === undefined || type === '' || type.startsWith('text/') || type.endsWith('+xml') || type === 'application/xml' || type === 'application/xhtml+xml'
}

/**
 * Whether a fetched response is processed as ESI, and how its body is decoded. Undefined
 * when it did not ask, when it has no body, or when its content coding is one Lacquer
 * cannot decode (then it is delivered untouched, with a log line).
 */
export function esiActivation(ctx: ProxyContext, request: RequestView, headers: ReadonlyHeaderList, hasBody: boolean): EsiActivation | undefined {
  if (!ctx.config.esi.isEnabled || !hasBody) return undefined
  const by = asksForEsi(headers) ? 'surrogate-control' : request.rule?.esi && isTextual(headers) ? 'rule' : undefined
  if (!by) return undefined
  const codings = getAll(headers, 'content-encoding').join(',').split(',').map((c) => c.trim().toLowerCase()).filter((c) => c && c !== 'identity')
  if (codings.length === 0) return { by }
  if (codings.length === 1 && (codings[0] === 'gzip' || codings[0] === 'x-gzip' || codings[0] === 'br' || codings[0] === 'deflate')) {
    return { by, coding: codings[0] === 'x-gzip' ? 'gzip' : (codings[0] as DecodableCoding) }
  }
  ctx.log('warn', 'an ESI response has a content coding Lacquer cannot decode: delivered without ESI processing', { path: request.path, coding: codings.join(', ') })
  return undefined
}

/**
 * The fields of an ESI response as stored and delivered: the body is decoded and will be
 * assembled per request, so its coding and length go; Surrogate-Control was for Lacquer
 * (spec §3: a surrogate removes what it consumed). Validators stay in the store, for revalidation.
 */
export function stripForEsi(headers: HeaderList): void {
  removeHeader(headers, 'surrogate-control')
  removeHeader(headers, 'content-encoding')
  removeHeader(headers, 'content-length')
}

/** The Surrogate-Capability field of an origin request: a downstream surrogate's, then Lacquer's. */
export function surrogateCapability(headers: ReadonlyHeaderList): string {
  const previous = getAll(headers, 'surrogate-capability')
  return previous.length ? `${previous.join(', ')}, ${SURROGATE_CAPABILITY}` : SURROGATE_CAPABILITY
}
