/**
 * @module invalidate/safe-regex
 * Ban patterns come from callers, and a pattern such as `(a+)+$` can take exponential time on
 * one URL (catastrophic backtracking) and stall the whole process. Two guards:
 *  - nested quantifiers (star height above 1, the shape of every classic catastrophic
 *    pattern) are refused outright, with a message saying how to rewrite them;
 *  - what is accepted is compiled for V8's linear-time engine (the `l` flag, enabled here),
 *    which refuses the features that need backtracking (back-references, look-around), so no
 *    accepted pattern can take more than linear time, whatever its shape.
 */
import v8 from 'node:v8'

export const MAX_PATTERN_LENGTH = 1024

let hasLinearEngine: boolean | undefined

function linearEngine(): boolean {
  if (hasLinearEngine === undefined) {
    try {
      v8.setFlagsFromString('--enable-experimental-regexp-engine')
      new RegExp('a', 'l')
      hasLinearEngine = true
    } catch {
      hasLinearEngine = false
    }
  }
  return hasLinearEngine
}

/** A compiled pattern, or the reason it is refused. */
export function compileSafePattern(source: string): { ok: true; regex: RegExp } | { ok: false; reason: string } {
  if (source.length === 0) return { ok: false, reason: 'the pattern is empty' }
  if (source.length > MAX_PATTERN_LENGTH) return { ok: false, reason: `the pattern is longer than ${MAX_PATTERN_LENGTH} characters` }
  try {
    new RegExp(source)
  } catch (err) {
    return { ok: false, reason: `not a valid regular expression (${(err as Error).message})` }
  }
  if (hasNestedQuantifier(source)) {
    return { ok: false, reason: 'the pattern nests quantifiers (e.g. (a+)+), which can backtrack catastrophically; rewrite it without nesting, e.g. a+ for (a+)+' }
  }
  if (linearEngine()) {
    try {
      return { ok: true, regex: new RegExp(source, 'l') }
    } catch {
      return { ok: false, reason: 'the pattern cannot run in linear time (back-references, look-around, or a very large repetition count), which could stall the proxy; rewrite it without them' }
    }
  }
  if (/\\[1-9]|\\k<|\(\?<?[=!]/.test(source)) {
    return { ok: false, reason: 'the pattern needs backtracking (back-references or look-around); rewrite it without them' }
  }
  return { ok: true, regex: new RegExp(source) }
}

/** Star height > 1: a quantified group that itself contains a quantifier. */
export function hasNestedQuantifier(source: string): boolean {
  const groupHasQuantifier: boolean[] = [false]
  let inClass = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!
    if (c === '\\') { i++; continue }
    if (inClass) { if (c === ']') inClass = false; continue }
    if (c === '[') { inClass = true; continue }
    if (c === '(') {
      groupHasQuantifier.push(false)
      // a group's own syntax is not a quantifier: (?: (?= (?! (?<= (?<! (?<name>
      const syntax = /^\?(?::|=|!|<=|<!|<[A-Za-z_$][\w$]*>)/.exec(source.slice(i + 1))
      if (syntax) i += syntax[0].length
      continue
    }
    const isQuantifier = c === '*' || c === '+' || c === '?' || (c === '{' && /^\{\d+(,\d*)?\}/.test(source.slice(i)))
    if (c === ')') {
      const inner = groupHasQuantifier.pop() ?? false
      const next = source[i + 1]
      const quantified = next === '*' || next === '+' || next === '?' || (next === '{' && /^\{\d+(,\d*)?\}/.test(source.slice(i + 1)))
      if (inner && quantified && !(next === '?' && source[i + 2] !== '?')) return true
      if (inner || quantified) groupHasQuantifier[groupHasQuantifier.length - 1] = true
      continue
    }
    if (isQuantifier) groupHasQuantifier[groupHasQuantifier.length - 1] = true
  }
  return false
}
