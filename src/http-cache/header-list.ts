/**
 * @module http-cache/header-list
 * The header representation used everywhere inside Lacquer: an ordered list of
 * `[lower-case name, value]` pairs, so that repeated field lines survive (RFC 9110 §5.3)
 * and order is kept. Names are lower-cased once, at the edges (http/, origin/).
 */

export type HeaderList = Array<[name: string, value: string]>

/** A header list a function only reads. */
export type ReadonlyHeaderList = ReadonlyArray<readonly [name: string, value: string]>

/** All field line values of `name` (lower-case), in order. */
export function getAll(headers: ReadonlyHeaderList, name: string): string[] {
  const out: string[] = []
  for (const [k, v] of headers) if (k === name) out.push(v)
  return out
}

/** The field value as a recipient combines it: all lines joined with ", " (RFC 9110 §5.3). */
export function getCombined(headers: ReadonlyHeaderList, name: string): string | undefined {
  let out: string | undefined
  for (const [k, v] of headers) if (k === name) out = out === undefined ? v : `${out}, ${v}`
  return out
}

export function getFirst(headers: ReadonlyHeaderList, name: string): string | undefined {
  for (const [k, v] of headers) if (k === name) return v
  return undefined
}

export function has(headers: ReadonlyHeaderList, name: string): boolean {
  for (const [k] of headers) if (k === name) return true
  return false
}

/** A copy without the named fields. */
export function without(headers: ReadonlyHeaderList, names: ReadonlySet<string>): HeaderList {
  return headers.filter(([k]) => !names.has(k)) as HeaderList
}

/** Replaces every line of `name` by one line with `value` (appended at the end if absent). */
export function setHeader(headers: HeaderList, name: string, value: string): void {
  let index = -1
  for (let i = headers.length - 1; i >= 0; i--) {
    if (headers[i]![0] === name) {
      if (index >= 0) headers.splice(index, 1)
      index = i
    }
  }
  if (index >= 0) headers[index] = [name, value]
  else headers.push([name, value])
}

export function removeHeader(headers: HeaderList, name: string): void {
  for (let i = headers.length - 1; i >= 0; i--) if (headers[i]![0] === name) headers.splice(i, 1)
}

/** Applies `set` (replaces every line of a name) and `unset` edits, names lower-cased. */
export function applyEdits(headers: HeaderList, edits: { readonly set?: Readonly<Record<string, string>>; readonly unset?: readonly string[] } | undefined): void {
  if (!edits) return
  for (const name of edits.unset ?? []) removeHeader(headers, name.toLowerCase())
  for (const [name, value] of Object.entries(edits.set ?? {})) setHeader(headers, name.toLowerCase(), value)
}

/** Splits a list-valued field (RFC 9110 §5.6.1) into trimmed, non-empty members. */
export function splitList(value: string | undefined): string[] {
  if (!value) return []
  const out: string[] = []
  for (const part of value.split(',')) {
    const t = part.trim()
    if (t) out.push(t)
  }
  return out
}

/** Flattens a header list into node's raw `[k1, v1, k2, v2…]` form. */
export function toRaw(headers: ReadonlyHeaderList): string[] {
  const raw: string[] = new Array(headers.length * 2)
  let i = 0
  for (const [k, v] of headers) { raw[i++] = k; raw[i++] = v }
  return raw
}

/** Builds a header list from node's raw `[k1, v1, …]` form, lower-casing the names. */
export function fromRaw(raw: readonly string[]): HeaderList {
  const out: HeaderList = []
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!.toLowerCase(), raw[i + 1]!])
  return out
}
