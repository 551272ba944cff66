/**
 * @module esi/variables
 * The ESI 1.0 variables (ESI Language Specification 1.0, W3C Note 2001, §4): their reference
 * syntax `$(NAME{key}|default)` and their values, read from a view of the client's request.
 * Pure: no I/O.
 *
 * API for the integrator:
 * - `RequestView` — what the variables are read from: lower-case header pairs and the request
 *   target (path with query). Build it once per client request.
 * - `createVariableContext(request)` → `VariableContext`; `resolveVariable(ref, ctx)` →
 *   `string | boolean | undefined` (before the default is applied); `variableText(ref, ctx)`
 *   → the string an `esi:vars` or an attribute substitutes (default applied, §4.2).
 * - `scanVariableRef(text, at)` parses one reference (used by the parser and the expression
 *   parser); `parseTemplate(text)` splits an attribute value into literal and variable parts.
 *
 * Values (§4, table; §4.1 substructure):
 * - `HTTP_ACCEPT_LANGUAGE` whole: the raw header; `{lang}`: a *list* (§4.1.2), `true` when a
 *   language range of the header equals `lang` or starts with `lang-` (case-insensitive,
 *   so `{en}` is true for `en-GB`), ranges with `q=0` excluded; else `false`.
 * - `HTTP_COOKIE` whole: the Cookie header(s) joined by `; `; `{name}`: a *dictionary*
 *   (§4.1.1, case-sensitive keys), the raw cookie value of the first cookie of that name.
 * - `HTTP_HOST`, `HTTP_REFERER`: the header values.
 * - `HTTP_USER_AGENT` whole: the header; `{browser}` → `MOZILLA` | `MSIE` | `OTHER`,
 *   `{version}` → the browser version, `{os}` → `WIN` | `MAC` | `UNIX` | `OTHER` (§4.1.1).
 * - `QUERY_STRING` whole: the raw query (after `?`, without `#`); `{name}`: the first value of
 *   that parameter, form-decoded (`+` is a space, `%XX` decoded).
 * - Any other name, a key on a variable without substructure, or an absent header: undefined,
 *   which substitutes as the default or the empty string (§4.2).
 */

/** The client's request as the ESI layer sees it. Header names lower-case; a repeated header appears repeatedly. */
export interface RequestView {
  /** `[lower-case name, value]` pairs, in arrival order. */
  readonly headers: ReadonlyArray<readonly [string, string]>
  /** The request target: path with query, e.g. `/products/1?color=red`. */
  readonly url: string
}

/** One parsed `$(NAME{key}|default)` reference. Plain data: JSON-serialisable. */
export interface VariableRef {
  name: string
  key?: string
  /** The default of §4.2 (`|default` or `|'quoted default'`), already unquoted. */
  default?: string
}

/** What the variables' substructures are (§4, table "Substructure Type"). */
export type VariableKind = 'string' | 'list' | 'dictionary' | 'user-agent'

/** The ESI 1.0 variables (§4). */
export const ESI_VARIABLES: Readonly<Record<string, VariableKind>> = {
  HTTP_ACCEPT_LANGUAGE: 'list',
  HTTP_COOKIE: 'dictionary',
  HTTP_HOST: 'string',
  HTTP_REFERER: 'string',
  HTTP_USER_AGENT: 'user-agent',
  QUERY_STRING: 'dictionary',
}

export type VariableValue = string | boolean | undefined

/** Parsed once per request, lazily: only what a page actually reads is parsed. */
export interface VariableContext {
  readonly request: RequestView
  cookies?: Map<string, string>
  query?: URLSearchParams
  languages?: string[]
  userAgent?: { browser: string; version: string; os: string }
}

export function createVariableContext(request: RequestView): VariableContext {
  return { request }
}

/** Every value of a header joined as RFC 9110 §5.3 allows (`, `), or `undefined` when absent. */
function header(request: RequestView, name: string, separator = ', '): string | undefined {
  let out: string | undefined
  for (const [n, v] of request.headers) if (n === name) out = out === undefined ? v : out + separator + v
  return out
}

function rawQuery(url: string): string {
  const hash = url.indexOf('#')
  const path = hash < 0 ? url : url.slice(0, hash)
  const q = path.indexOf('?')
  return q < 0 ? '' : path.slice(q + 1)
}

function cookies(ctx: VariableContext): Map<string, string> {
  if (ctx.cookies) return ctx.cookies
  const map = new Map<string, string>()
  // RFC 6265 §5.4: pairs separated by `;`; the first of a repeated name is the most specific.
  for (const pair of (header(ctx.request, 'cookie', '; ') ?? '').split(';')) {
    const eq = pair.indexOf('=')
    if (eq < 0) continue
    const name = pair.slice(0, eq).trim()
    if (name && !map.has(name)) map.set(name, pair.slice(eq + 1).trim())
  }
  ctx.cookies = map
  return map
}

function languages(ctx: VariableContext): string[] {
  if (ctx.languages) return ctx.languages
  const out: string[] = []
  for (const item of (header(ctx.request, 'accept-language') ?? '').split(',')) {
    const [range, ...params] = item.split(';').map((s) => s.trim())
    if (!range) continue
    const q = params.find((p) => /^q\s*=/i.test(p))
    if (q && Number(q.replace(/^q\s*=\s*/i, '')) === 0) continue // RFC 9110 §12.4.2: q=0 is "not acceptable"
    out.push(range.toLowerCase())
  }
  ctx.languages = out
  return out
}

/**
 * The §4.1.1 user-agent dictionary. ESI 1.0 names only MOZILLA and MSIE: every browser that
 * announces itself as `Mozilla/x` (all current ones) is MOZILLA, except Internet Explorer
 * (`MSIE n` or `Trident/… rv:n`).
 */
export function parseUserAgent(ua: string): { browser: string; version: string; os: string } {
  let browser = 'OTHER'
  let version = ''
  const msie = /MSIE ([0-9][0-9.]*)/.exec(ua)
  const trident = /Trident\/.*rv:([0-9][0-9.]*)/.exec(ua)
  const mozilla = /^Mozilla\/([0-9][0-9.]*)/.exec(ua)
  if (msie) { browser = 'MSIE'; version = msie[1]! } else if (trident) { browser = 'MSIE'; version = trident[1]! } else if (mozilla) { browser = 'MOZILLA'; version = mozilla[1]! }
  let os = 'OTHER'
  if (/Windows|Win(95|98|NT|32|16|CE)/.test(ua)) os = 'WIN'
  else if (/Macintosh|Mac OS|Mac_PowerPC|iPhone|iPad/.test(ua)) os = 'MAC'
  else if (/X11|Linux|Unix|BSD|SunOS|Android|CrOS/.test(ua)) os = 'UNIX'
  return { browser, version, os }
}

/** The value of a reference before its default (§4, §4.1). */
export function resolveVariable(ref: VariableRef, ctx: VariableContext): VariableValue {
  const { request } = ctx
  switch (ref.name) {
    case 'HTTP_ACCEPT_LANGUAGE': {
      if (ref.key === undefined) return header(request, 'accept-language')
      const key = ref.key.toLowerCase()
      return languages(ctx).some((range) => range === key || range.startsWith(`${key}-`))
    }
    case 'HTTP_COOKIE':
      return ref.key === undefined ? header(request, 'cookie', '; ') : cookies(ctx).get(ref.key)
    case 'HTTP_HOST':
      return ref.key === undefined ? header(request, 'host') : undefined
    case 'HTTP_REFERER':
      return ref.key === undefined ? header(request, 'referer') : undefined
    case 'HTTP_USER_AGENT': {
      const ua = header(request, 'user-agent')
      if (ref.key === undefined) return ua
      if (ua === undefined) return undefined
      ctx.userAgent ??= parseUserAgent(ua)
      if (ref.key === 'browser' || ref.key === 'version' || ref.key === 'os') return ctx.userAgent[ref.key] || undefined
      return undefined
    }
    case 'QUERY_STRING': {
      if (ref.key === undefined) return rawQuery(request.url)
      ctx.query ??= new URLSearchParams(rawQuery(request.url))
      return ctx.query.get(ref.key) ?? undefined
    }
    default:
      return undefined
  }
}

/** The value with §4.2 applied: empty or undefined → the default, or the empty string. Booleans print as `true`/`false`. */
export function variableText(ref: VariableRef, ctx: VariableContext): string {
  const value = resolveVariable(ref, ctx)
  if (value === undefined || value === '') return ref.default ?? ''
  return typeof value === 'boolean' ? String(value) : value
}

/** The result of scanning for a reference: `incomplete` means the text ended before it could be decided. */
export type ScanResult =
  | { kind: 'ok'; ref: VariableRef; end: number }
  | { kind: 'invalid' }
  | { kind: 'incomplete' }

const isUpper = (c: string): boolean => c >= 'A' && c <= 'Z'
const isNameChar = (c: string): boolean => isUpper(c) || (c >= '0' && c <= '9') || c === '_'
const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f'

/**
 * Reads a single-quoted literal starting at `at` (on the quote): `\'` and `\\` are escapes,
 * any other backslash is kept. Returns the value and the index after the closing quote.
 */
export function scanQuoted(text: string, at: number): { value: string; end: number } | 'incomplete' {
  let value = ''
  for (let i = at + 1; i < text.length; i++) {
    const c = text[i]!
    if (c === '\\' && i + 1 < text.length && (text[i + 1] === "'" || text[i + 1] === '\\')) { value += text[i + 1]; i++; continue }
    if (c === '\\' && i + 1 >= text.length) return 'incomplete'
    if (c === "'") return { value, end: i + 1 }
    value += c
  }
  return 'incomplete'
}

/**
 * Scans `$(NAME{key}|default)` at `at` (on the `$`). Grammar (§4, §4.1, §4.2): NAME is
 * upper-case letters, digits and `_` (starting with a letter; names are upper-case, §4);
 * key is `'quoted'` or a run without `}`, `)`, `'`, whitespace; default is `'quoted'` or a
 * run without `)`, `'` and whitespace (§4.2: whitespace needs quotes).
 */
export function scanVariableRef(text: string, at: number): ScanResult {
  const n = text.length
  let i = at
  if (i >= n) return { kind: 'incomplete' }
  if (text[i] !== '$') return { kind: 'invalid' }
  i++
  if (i >= n) return { kind: 'incomplete' }
  if (text[i] !== '(') return { kind: 'invalid' }
  i++
  if (i >= n) return { kind: 'incomplete' }
  if (!isUpper(text[i]!)) return { kind: 'invalid' }
  const nameStart = i
  while (i < n && isNameChar(text[i]!)) i++
  if (i >= n) return { kind: 'incomplete' }
  const ref: VariableRef = { name: text.slice(nameStart, i) }
  if (text[i] === '{') {
    i++
    if (i >= n) return { kind: 'incomplete' }
    if (text[i] === "'") {
      const q = scanQuoted(text, i)
      if (q === 'incomplete') return { kind: 'incomplete' }
      ref.key = q.value
      i = q.end
    } else {
      const keyStart = i
      while (i < n && text[i] !== '}' && text[i] !== ')' && text[i] !== "'" && text[i] !== '{' && !isSpace(text[i]!)) i++
      if (i >= n) return { kind: 'incomplete' }
      if (i === keyStart) return { kind: 'invalid' }
      ref.key = text.slice(keyStart, i)
    }
    if (i >= n) return { kind: 'incomplete' }
    if (text[i] !== '}') return { kind: 'invalid' }
    i++
    if (i >= n) return { kind: 'incomplete' }
  }
  if (text[i] === '|') {
    i++
    if (i >= n) return { kind: 'incomplete' }
    if (text[i] === "'") {
      const q = scanQuoted(text, i)
      if (q === 'incomplete') return { kind: 'incomplete' }
      ref.default = q.value
      i = q.end
    } else {
      const start = i
      while (i < n && text[i] !== ')' && text[i] !== "'" && !isSpace(text[i]!)) i++
      if (i >= n) return { kind: 'incomplete' }
      ref.default = text.slice(start, i)
    }
    if (i >= n) return { kind: 'incomplete' }
  }
  if (text[i] !== ')') return { kind: 'invalid' }
  return { kind: 'ok', ref, end: i + 1 }
}

/** An attribute value split into literal text and variable references (§3.1: `src` and `alt` may hold variables). */
export type Template = Array<string | VariableRef>

/** Splits `text` into literals and references; a `$` that does not start a valid reference is literal. */
export function parseTemplate(text: string): Template {
  const parts: Template = []
  let literal = ''
  let i = 0
  while (i < text.length) {
    const dollar = text.indexOf('$(', i)
    if (dollar < 0) { literal += text.slice(i); break }
    literal += text.slice(i, dollar)
    const scan = scanVariableRef(text, dollar)
    if (scan.kind === 'ok') {
      if (literal) parts.push(literal)
      literal = ''
      parts.push(scan.ref)
      i = scan.end
    } else {
      literal += '$'
      i = dollar + 1
    }
  }
  if (literal || parts.length === 0) parts.push(literal)
  return parts
}

/** Problems with a reference that the parser reports as warnings (unknown name, key where there is no substructure). */
export function checkVariableRef(ref: VariableRef): string | undefined {
  const kind = ESI_VARIABLES[ref.name]
  if (kind === undefined) return `unknown variable ${ref.name} (ESI 1.0 §4 defines ${Object.keys(ESI_VARIABLES).join(', ')}); it is always empty`
  if (ref.key !== undefined && kind === 'string') return `${ref.name} has no substructure; $(${ref.name}{${ref.key}}) is always empty`
  if (ref.key !== undefined && kind === 'user-agent' && !['browser', 'version', 'os'].includes(ref.key)) {
    return `HTTP_USER_AGENT{${ref.key}} is always empty: the keys are browser, version and os (§4.1.1)`
  }
  return undefined
}

/** Writes a reference back in its source form (for messages and docs). */
export function formatVariableRef(ref: VariableRef): string {
  const key = ref.key === undefined ? '' : `{${ref.key}}`
  const dflt = ref.default === undefined ? '' : `|'${ref.default.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
  return `$(${ref.name}${key}${dflt})`
}
