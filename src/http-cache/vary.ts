/**
 * @module http-cache/vary
 * Secondary cache keys (RFC 9111 §4.1): which request fields a response varies on, and
 * whether a new request matches the one a stored response was selected for.
 */
import { type ReadonlyHeaderList, getAll, splitList } from './header-list.js'

/** Field names listed by all `Vary` lines, lower-cased; `'*'` when any member is `*`. */
export function parseVary(headers: ReadonlyHeaderList): string[] | '*' {
  const names: string[] = []
  for (const line of getAll(headers, 'vary')) {
    for (const member of splitList(line)) {
      if (member === '*') return '*'
      const name = member.toLowerCase()
      if (!names.includes(name)) names.push(name)
    }
  }
  return names
}

/**
 * The normalised value of one selecting field in a request (RFC 9111 §4.1 allows
 * normalisation where it does not change the meaning): lines combined, whitespace around
 * list members removed; `Accept-Language` members also lower-cased (language tags are
 * case-insensitive, RFC 5646 §2.1.1). Order is kept: it can mean preference (RFC 9110 §12.5.4).
 */
export function normalisedFieldValue(request: ReadonlyHeaderList, name: string): string | null {
  const lines = getAll(request, name)
  if (lines.length === 0) return null
  const members = lines.join(',').split(',').map((m) => m.trim())
  if (name === 'accept-language') return members.map((m) => m.toLowerCase().replace(/\s*;\s*/g, ';')).filter(Boolean).join(',')
  return members.join(',')
}

/** The values of the selecting fields, in the order of `names`. */
export function selectingValues(request: ReadonlyHeaderList, names: readonly string[]): Array<string | null> {
  return names.map((name) => normalisedFieldValue(request, name))
}

/** RFC 9111 §4.1: a stored response matches when every selecting field matches. */
export function varyMatches(names: readonly string[], storedValues: ReadonlyArray<string | null>, request: ReadonlyHeaderList): boolean {
  for (let i = 0; i < names.length; i++) {
    if (normalisedFieldValue(request, names[i]!) !== storedValues[i]) return false
  }
  return true
}
