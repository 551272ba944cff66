/**
 * @module http-cache/cache-control
 * Parsing of `Cache-Control` (RFC 9111 §5.2) and of the targeted `CDN-Cache-Control`
 * (RFC 9213, a Structured Field Dictionary, RFC 8941 §3.2). Pure: no I/O.
 */

/** The response and request directives Lacquer acts on, parsed once per message. */
export interface CacheControl {
  /** `max-age` in seconds; `-1` when present but invalid (a recipient treats that as stale). */
  maxAge?: number
  /** `s-maxage` in seconds (RFC 9111 §5.2.2.10); `-1` when invalid. */
  sMaxage?: number
  noStore: boolean
  /** `no-cache` (RFC 9111 §5.2.2.4); the field-list form is treated like the plain form. */
  noCache: boolean
  /** `private` (RFC 9111 §5.2.2.7); the field-list form is treated like the plain form by a shared cache. */
  isPrivate: boolean
  isPublic: boolean
  mustRevalidate: boolean
  proxyRevalidate: boolean
  mustUnderstand: boolean
  immutable: boolean
  noTransform: boolean
  /** RFC 5861 §3, seconds. */
  staleWhileRevalidate?: number
  /** RFC 5861 §4, seconds. */
  staleIfError?: number
  /** request-only directives (RFC 9111 §5.2.1) */
  maxStale?: number
  minFresh?: number
  onlyIfCached: boolean
}

/**
 * RFC 9111 §1.2.2: a delta-seconds value larger than the greatest integer a cache can
 * represent, or an overflowing calculation, is taken as 2147483648 (2^31).
 */
export const DELTA_SECONDS_MAX = 2147483648

/** Parses delta-seconds (RFC 9111 §1.2.2): 1*DIGIT only. Returns `undefined` when invalid. */
export function parseDeltaSeconds(text: string): number | undefined {
  if (!/^[0-9]+$/.test(text)) return undefined
  const value = Number(text)
  return value > DELTA_SECONDS_MAX ? DELTA_SECONDS_MAX : value
}

function emptyCacheControl(): CacheControl {
  return {
    noStore: false, noCache: false, isPrivate: false, isPublic: false, mustRevalidate: false,
    proxyRevalidate: false, mustUnderstand: false, immutable: false, noTransform: false,
    onlyIfCached: false,
  }
}

/**
 * Splits a Cache-Control field value into `[name, value]` pairs, honouring quoted strings
 * so that a `max-age` inside quotes is not taken as a directive (RFC 9111 §5.2, RFC 9110 §5.6.4).
 */
export function splitDirectives(fieldValue: string): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = []
  let i = 0
  const n = fieldValue.length
  while (i < n) {
    while (i < n && (fieldValue[i] === ',' || fieldValue[i] === ' ' || fieldValue[i] === '\t')) i++
    if (i >= n) break
    const nameStart = i
    while (i < n && fieldValue[i] !== '=' && fieldValue[i] !== ',') i++
    const name = fieldValue.slice(nameStart, i).trim().toLowerCase()
    let value: string | undefined
    if (i < n && fieldValue[i] === '=') {
      i++
      while (i < n && (fieldValue[i] === ' ' || fieldValue[i] === '\t')) i++
      if (fieldValue[i] === '"') {
        i++
        let text = ''
        while (i < n && fieldValue[i] !== '"') {
          if (fieldValue[i] === '\\' && i + 1 < n) i++
          text += fieldValue[i]
          i++
        }
        i++ // closing quote
        value = text
        // anything up to the next comma after a quoted string is garbage; skip it
        while (i < n && fieldValue[i] !== ',') i++
      } else {
        const valueStart = i
        while (i < n && fieldValue[i] !== ',') i++
        value = fieldValue.slice(valueStart, i).trim()
      }
    }
    if (name) out.push([name, value])
  }
  return out
}

/**
 * Parses one or more Cache-Control field lines. With a directive given twice, the first
 * occurrence is used (RFC 9111 §4.2.1 allows "the first occurrence" or "stale").
 */
export function parseCacheControl(fieldLines: readonly string[] | string | undefined): CacheControl {
  const cc = emptyCacheControl()
  if (fieldLines === undefined) return cc
  const lines = typeof fieldLines === 'string' ? [fieldLines] : fieldLines
  const seen = new Set<string>()
  for (const line of lines) {
    for (const [name, value] of splitDirectives(line)) {
      if (seen.has(name)) continue
      seen.add(name)
      applyDirective(cc, name, value)
    }
  }
  return cc
}

function seconds(value: string | undefined): number {
  if (value === undefined) return -1
  const parsed = parseDeltaSeconds(value)
  return parsed === undefined ? -1 : parsed
}

function applyDirective(cc: CacheControl, name: string, value: string | undefined): void {
  switch (name) {
    case 'max-age': cc.maxAge = seconds(value); break
    case 's-maxage': cc.sMaxage = seconds(value); break
    case 'no-store': cc.noStore = true; break
    case 'no-cache': cc.noCache = true; break
    case 'private': cc.isPrivate = true; break
    case 'public': cc.isPublic = true; break
    case 'must-revalidate': cc.mustRevalidate = true; break
    case 'proxy-revalidate': cc.proxyRevalidate = true; break
    case 'must-understand': cc.mustUnderstand = true; break
    case 'immutable': cc.immutable = true; break
    case 'no-transform': cc.noTransform = true; break
    case 'only-if-cached': cc.onlyIfCached = true; break
    case 'stale-while-revalidate': {
      const s = seconds(value)
      if (s >= 0) cc.staleWhileRevalidate = s
      break
    }
    case 'stale-if-error': {
      const s = seconds(value)
      if (s >= 0) cc.staleIfError = s
      break
    }
    case 'max-stale': cc.maxStale = value === undefined ? DELTA_SECONDS_MAX : Math.max(0, seconds(value)); break
    case 'min-fresh': cc.minFresh = Math.max(0, seconds(value)); break
    default: break // unknown extensions are ignored (RFC 9111 §5.2.3)
  }
}

/**
 * Parses `CDN-Cache-Control` (RFC 9213 §2.1): a Structured Field Dictionary. Returns
 * `undefined` when the field is absent or is not a valid dictionary, in which case the
 * cache must ignore it and fall back to Cache-Control (RFC 9213 §2.1, last paragraph).
 */
export function parseCdnCacheControl(fieldLines: readonly string[] | undefined): CacheControl | undefined {
  if (!fieldLines || fieldLines.length === 0) return undefined
  const members = parseSfDictionary(fieldLines.join(', '))
  if (!members) return undefined
  const cc = emptyCacheControl()
  for (const [name, value] of members) {
    switch (name) {
      case 'max-age':
      case 's-maxage':
      case 'stale-while-revalidate':
      case 'stale-if-error': {
        // these take an Integer; any other type makes the whole field invalid for us
        if (typeof value !== 'number' || !Number.isInteger(value)) return undefined
        const s = value < 0 ? -1 : Math.min(value, DELTA_SECONDS_MAX)
        if (name === 'max-age') cc.maxAge = s
        else if (name === 's-maxage') cc.sMaxage = s
        else if (name === 'stale-while-revalidate') cc.staleWhileRevalidate = s
        else cc.staleIfError = s
        break
      }
      case 'no-store': cc.noStore = value !== false; break
      case 'no-cache': cc.noCache = value !== false; break
      case 'private': cc.isPrivate = value !== false; break
      case 'public': cc.isPublic = value !== false; break
      case 'must-revalidate': cc.mustRevalidate = value !== false; break
      case 'proxy-revalidate': cc.proxyRevalidate = value !== false; break
      case 'immutable': cc.immutable = value !== false; break
      default: break
    }
  }
  return cc
}

/** A bare item; a Decimal is boxed so it is never mistaken for an Integer (`1.0`). */
type SfBare = number | string | boolean | { decimal: number }

/**
 * A small RFC 8941 §4.2.2 dictionary parser: keys, bare items (integer, decimal, string,
 * token, boolean, byte sequence) and parameters (skipped). Returns undefined on any error.
 */
export function parseSfDictionary(input: string): Array<[string, SfBare]> | undefined {
  const s = input
  let i = 0
  const out: Array<[string, SfBare]> = []
  const skipSp = () => { while (s[i] === ' ') i++ }
  const skipOws = () => { while (s[i] === ' ' || s[i] === '\t') i++ }
  const parseKey = (): string | undefined => {
    if (!/[a-z*]/.test(s[i] ?? '')) return undefined
    const start = i
    while (i < s.length && /[a-z0-9_\-.*]/.test(s[i]!)) i++
    return s.slice(start, i)
  }
  const parseBare = (): SfBare | undefined => {
    const c = s[i]
    if (c === undefined) return undefined
    if (c === '-' || /[0-9]/.test(c)) {
      const m = /^-?[0-9]{1,15}(\.[0-9]{1,3})?/.exec(s.slice(i))
      if (!m) return undefined
      i += m[0].length
      if (m[1] === undefined && m[0].replace('-', '').length > 15) return undefined
      return m[1] === undefined ? Number(m[0]) : { decimal: Number(m[0]) }
    }
    if (c === '"') {
      i++
      let text = ''
      while (i < s.length) {
        const ch = s[i]!
        if (ch === '\\') { i++; const next = s[i]; if (next !== '"' && next !== '\\') return undefined; text += next; i++; continue }
        if (ch === '"') { i++; return text }
        if (ch < ' ' || ch > '~') return undefined
        text += ch; i++
      }
      return undefined
    }
    if (/[A-Za-z*]/.test(c)) {
      const start = i
      while (i < s.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/.test(s[i]!)) i++
      return s.slice(start, i)
    }
    if (c === '?') {
      i++
      const b = s[i]
      if (b !== '0' && b !== '1') return undefined
      i++
      return b === '1'
    }
    if (c === ':') {
      const end = s.indexOf(':', i + 1)
      if (end < 0) return undefined
      const body = s.slice(i + 1, end)
      if (!/^[A-Za-z0-9+/=]*$/.test(body)) return undefined
      i = end + 1
      return body
    }
    return undefined
  }
  const skipParams = (): boolean => {
    while (s[i] === ';') {
      i++
      skipSp()
      if (parseKey() === undefined) return false
      if (s[i] === '=') { i++; if (parseBare() === undefined) return false }
    }
    return true
  }
  skipSp()
  if (i >= s.length) return undefined
  while (i < s.length) {
    const key = parseKey()
    if (key === undefined) return undefined
    let value: SfBare = true
    if (s[i] === '=') {
      i++
      if (s[i] === '(') return undefined // inner lists: not used by any cache directive
      const bare = parseBare()
      if (bare === undefined) return undefined
      value = bare
    }
    if (!skipParams()) return undefined
    out.push([key, value])
    skipOws()
    if (i >= s.length) break
    if (s[i] !== ',') return undefined
    i++
    skipOws()
    if (i >= s.length) return undefined
  }
  return out
}
