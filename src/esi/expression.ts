/**
 * @module esi/expression
 * The ESI expression language (ESI Language Specification 1.0, W3C Note 2001, §5): the `test`
 * attribute of `esi:when`. Parsed once (when the page is parsed and stored) into a plain,
 * JSON-serialisable tree; evaluated per request. Pure: no I/O, never throws.
 *
 * API for the integrator:
 * - `parseExpression(source)` → `ParsedExpression`: `{ ok: true, ast }` or
 *   `{ ok: false, error, at }` (a parse error is a value, never an exception).
 * - `evaluateExpression(parsed, ctx)` → `{ value: boolean, error?: string }`; a parse error
 *   evaluates to `false` with the error, which the caller reports as a warning (§3.3: the
 *   `when` is then not taken).
 *
 * Grammar (precedence from §5.1, decreasing: comparison, `!`, `&`, `|`; left-associative):
 * ```
 * or         := and ('|' and)*
 * and        := not ('&' not)*
 * not        := '!' not | comparison
 * comparison := operand (op operand)?        op: == != < > <= >= has has_i matches matches_i
 * operand    := '(' or ')' | 'literal' | '''literal''' | number | $(VARIABLE…)
 * ```
 * So `!$(X)=='a'` is `!($(X)=='a')` (§5.1 puts `!` below the comparisons).
 *
 * Semantics (§5.1):
 * - Comparisons are numeric when both operands are numbers (`-?digits[.digits]`, after
 *   expansion, so `'10' > '9'` is numeric), otherwise string comparisons by UTF-16 code unit.
 * - A comparison with an empty or undefined operand is `false` (§5.1) — `!=` included.
 * - Booleans (the `HTTP_ACCEPT_LANGUAGE{lang}` list lookup, §4.1.2) compare as `'true'`/`'false'`.
 * - A variable alone is a condition: a boolean as itself, a string true when not empty.
 *   A literal alone (`1`, `'a'`, `(1 & 4)`) is rejected: §5.1 "logical operators … cannot be
 *   used as comparators", and a constant is never a useful condition.
 * - Chained comparisons (`a == b == c`) are a parse error (§5.1 leaves them undefined).
 * - Double quotes are not literal delimiters (§5: single quotes), so `"abc"` is a parse error.
 * - Literals: `'…'` with `\'` and `\\` escapes (other backslashes kept), or Akamai's
 *   `'''…'''` with no escapes (handy for regular expressions).
 *
 * Extensions beyond ESI 1.0 (implemented, from Akamai ESI; §5 mentions `has` but does not
 * define it): `a has b` (a contains b), `has_i` (case-insensitive), `a matches 'regex'`,
 * `matches_i`. The pattern of `matches` must be a literal (compiled and checked at parse
 * time; the origin writes it), and the subject is cut to 4096 characters to bound the cost
 * of a pattern run on client-controlled text. `has` and `matches` need whitespace around
 * them (§5).
 */
import { scanQuoted, scanVariableRef, variableText, resolveVariable, type VariableContext, type VariableRef } from './variables.js'

export type ComparisonOperator = '==' | '!=' | '<' | '>' | '<=' | '>=' | 'has' | 'has_i' | 'matches' | 'matches_i'

/** The expression tree. Plain data, JSON-serialisable (stored with the parsed page). */
export type Expression =
  | { op: 'literal'; value: string }
  | { op: 'var'; ref: VariableRef }
  | { op: 'not'; arg: Expression }
  | { op: 'and' | 'or'; left: Expression; right: Expression }
  | { op: ComparisonOperator; left: Expression; right: Expression }

export type ParsedExpression =
  | { ok: true; source: string; ast: Expression }
  | { ok: false; source: string; error: string; at: number }

/** The longest subject a `matches` runs on (characters). */
export const MATCHES_SUBJECT_MAX = 4096
/** Expressions longer than this are refused (characters). */
export const EXPRESSION_MAX = 4096

type Token =
  | { t: 'lit'; value: string; at: number }
  | { t: 'num'; value: string; at: number }
  | { t: 'var'; ref: VariableRef; at: number }
  | { t: 'op'; value: string; at: number }
  | { t: 'end'; at: number }

class ExpressionError extends Error {
  constructor(message: string, readonly at: number) { super(message) }
}

const WORD_OPERATORS = ['matches_i', 'matches', 'has_i', 'has']

function tokenize(src: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f'
  while (i < src.length) {
    const c = src[i]!
    if (isSpace(c)) { i++; continue }
    const at = i
    if (c === '$') {
      const scan = scanVariableRef(src, i)
      if (scan.kind !== 'ok') throw new ExpressionError('malformed variable reference (expected $(NAME), $(NAME{key}) or $(NAME{key}|default))', at)
      tokens.push({ t: 'var', ref: scan.ref, at })
      i = scan.end
      continue
    }
    if (src.startsWith("'''", i)) {
      const close = src.indexOf("'''", i + 3)
      if (close < 0) throw new ExpressionError("unterminated ''' literal", at)
      tokens.push({ t: 'lit', value: src.slice(i + 3, close), at })
      i = close + 3
      continue
    }
    if (c === "'") {
      const q = scanQuoted(src, i)
      if (q === 'incomplete') throw new ExpressionError('unterminated string literal', at)
      tokens.push({ t: 'lit', value: q.value, at })
      i = q.end
      continue
    }
    if (c === '"') throw new ExpressionError('string literals are single-quoted in ESI (§5)', at)
    const num = /^-?[0-9]+(\.[0-9]+)?/.exec(src.slice(i, i + 64))
    if (num && (c !== '-' || tokens.length === 0 || tokens[tokens.length - 1]!.t === 'op')) {
      const next = src[i + num[0].length]
      if (next !== undefined && /[A-Za-z0-9_.]/.test(next)) throw new ExpressionError(`malformed number "${src.slice(i).split(/[\s)]/)[0]}"`, at)
      tokens.push({ t: 'num', value: num[0], at })
      i += num[0].length
      continue
    }
    const two = src.slice(i, i + 2)
    if (two === '==' || two === '!=' || two === '<=' || two === '>=') { tokens.push({ t: 'op', value: two, at }); i += 2; continue }
    if ('<>!&|()'.includes(c)) { tokens.push({ t: 'op', value: c, at }); i++; continue }
    const word = WORD_OPERATORS.find((w) => src.startsWith(w, i) && !/[A-Za-z0-9_]/.test(src[i + w.length] ?? ''))
    if (word) {
      // §5: "has … must be surrounded by whitespace"; the same rule for its siblings.
      if (!isSpace(src[i - 1]) || !isSpace(src[i + word.length])) throw new ExpressionError(`"${word}" must be surrounded by whitespace (§5)`, at)
      tokens.push({ t: 'op', value: word, at })
      i += word.length
      continue
    }
    if (c === '=') throw new ExpressionError('"=" is not an operator; use "==" (§5.1)', at)
    throw new ExpressionError(`unexpected "${c}"`, at)
  }
  tokens.push({ t: 'end', at: src.length })
  return tokens
}

const COMPARISONS = new Set(['==', '!=', '<', '>', '<=', '>=', 'has', 'has_i', 'matches', 'matches_i'])

class Parser {
  private pos = 0
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token { return this.tokens[this.pos]! }
  private isOp(value: string): boolean { const t = this.peek(); return t.t === 'op' && t.value === value }

  parse(): Expression {
    const e = this.or()
    const t = this.peek()
    if (t.t !== 'end') throw new ExpressionError(t.t === 'op' && t.value === ')' ? 'unbalanced ")"' : 'expected an operator or the end of the expression', t.at)
    this.requireCondition(e, 0)
    return e
  }

  /** A bare literal is never a condition (§5.1: logical operators combine comparisons). */
  private requireCondition(e: Expression, at: number): void {
    if (e.op === 'literal') throw new ExpressionError('a literal is not a condition; compare it (§5.1)', at)
  }

  private or(): Expression {
    let left = this.and()
    while (this.isOp('|')) {
      const at = this.peek().at
      this.pos++
      const right = this.and()
      this.requireCondition(left, at)
      this.requireCondition(right, at)
      left = { op: 'or', left, right }
    }
    return left
  }

  private and(): Expression {
    let left = this.not()
    while (this.isOp('&')) {
      const at = this.peek().at
      this.pos++
      const right = this.not()
      this.requireCondition(left, at)
      this.requireCondition(right, at)
      left = { op: 'and', left, right }
    }
    return left
  }

  private not(): Expression {
    if (this.isOp('!')) {
      const at = this.peek().at
      this.pos++
      const arg = this.not()
      this.requireCondition(arg, at)
      return { op: 'not', arg }
    }
    return this.comparison()
  }

  private comparison(): Expression {
    const left = this.operand()
    const t = this.peek()
    if (t.t === 'op' && COMPARISONS.has(t.value)) {
      this.pos++
      const right = this.operand()
      const next = this.peek()
      if (next.t === 'op' && COMPARISONS.has(next.value)) throw new ExpressionError('chained comparison; use parentheses and & or | (§5.1)', next.at)
      const op = t.value as ComparisonOperator
      if (op === 'matches' || op === 'matches_i') {
        if (right.op !== 'literal') throw new ExpressionError(`the pattern of ${op} must be a literal`, t.at)
        try { new RegExp(right.value, op === 'matches_i' ? 'i' : '') } catch (error) {
          throw new ExpressionError(`invalid regular expression: ${(error as Error).message}`, t.at)
        }
      }
      return { op, left, right }
    }
    return left
  }

  private operand(): Expression {
    const t = this.peek()
    if (t.t === 'op' && t.value === '(') {
      this.pos++
      const inner = this.or()
      if (!this.isOp(')')) throw new ExpressionError('missing ")"', this.peek().at)
      this.pos++
      return inner
    }
    if (t.t === 'lit' || t.t === 'num') { this.pos++; return { op: 'literal', value: t.value } }
    if (t.t === 'var') { this.pos++; return { op: 'var', ref: t.ref } }
    if (t.t === 'end') throw new ExpressionError('unexpected end of expression', t.at)
    throw new ExpressionError(`expected a value, found "${t.value}"`, t.at)
  }
}

/** Parses a `test` expression (§5). Never throws. */
export function parseExpression(source: string): ParsedExpression {
  if (source.length > EXPRESSION_MAX) return { ok: false, source, error: `expression longer than ${EXPRESSION_MAX} characters`, at: 0 }
  if (source.trim() === '') return { ok: false, source, error: 'empty expression', at: 0 }
  try {
    return { ok: true, source, ast: new Parser(tokenize(source)).parse() }
  } catch (error) {
    if (error instanceof ExpressionError) return { ok: false, source, error: error.message, at: error.at }
    // A bug here must not break a page: report it as a parse error.
    return { ok: false, source, error: `internal error: ${(error as Error).message}`, at: 0 }
  }
}

const NUMBER = /^-?[0-9]+(\.[0-9]+)?$/

type Operand = string | boolean | undefined

function operandValue(e: Expression, ctx: VariableContext): Operand {
  if (e.op === 'literal') return e.value
  if (e.op === 'var') {
    const raw = resolveVariable(e.ref, ctx)
    if (typeof raw === 'boolean') return raw
    return variableText(e.ref, ctx) // §4.2 default applies
  }
  return evaluate(e, ctx)
}

const regexCache = new Map<string, RegExp>()
function regex(pattern: string, flags: string): RegExp {
  const key = `${flags}/${pattern}`
  let re = regexCache.get(key)
  if (!re) {
    re = new RegExp(pattern, flags)
    if (regexCache.size > 1000) regexCache.clear()
    regexCache.set(key, re)
  }
  return re
}

function compare(op: ComparisonOperator, leftRaw: Operand, rightRaw: Operand): boolean {
  if (leftRaw === undefined || rightRaw === undefined || leftRaw === '' || rightRaw === '') return false // §5.1
  const left = String(leftRaw)
  const right = String(rightRaw)
  switch (op) {
    case 'has': return left.includes(right)
    case 'has_i': return left.toLowerCase().includes(right.toLowerCase())
    case 'matches': return regex(right, '').test(left.slice(0, MATCHES_SUBJECT_MAX))
    case 'matches_i': return regex(right, 'i').test(left.slice(0, MATCHES_SUBJECT_MAX))
    default: break
  }
  let a: number | string = left
  let b: number | string = right
  if (NUMBER.test(left) && NUMBER.test(right)) { a = Number(left); b = Number(right) }
  switch (op) {
    case '==': return a === b
    case '!=': return a !== b
    case '<': return a < b
    case '>': return a > b
    case '<=': return a <= b
    case '>=': return a >= b
  }
}

function evaluate(e: Expression, ctx: VariableContext): boolean {
  switch (e.op) {
    case 'literal': return e.value !== ''
    case 'var': {
      const v = operandValue(e, ctx)
      return typeof v === 'boolean' ? v : v !== undefined && v !== ''
    }
    case 'not': return !evaluate(e.arg, ctx)
    case 'and': return evaluate(e.left, ctx) && evaluate(e.right, ctx)
    case 'or': return evaluate(e.left, ctx) || evaluate(e.right, ctx)
    default: return compare(e.op, operandValue(e.left, ctx), operandValue(e.right, ctx))
  }
}

/** Evaluates a parsed expression for one request. A parse error is `false` with its message. Never throws. */
export function evaluateExpression(parsed: ParsedExpression, ctx: VariableContext): { value: boolean; error?: string } {
  if (!parsed.ok) return { value: false, error: `${parsed.error} at character ${parsed.at} of "${parsed.source}"` }
  try {
    return { value: evaluate(parsed.ast, ctx) }
  } catch (error) {
    return { value: false, error: `evaluation failed: ${(error as Error).message}` }
  }
}
