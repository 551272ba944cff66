/**
 * Unit tests for esi/expression: the ESI 1.0 expression language (§5): the spec's own
 * examples, precedence (§5.1), numeric versus string comparison, empty operands, the
 * extensions has/has_i/matches/matches_i, and parse errors as values.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { evaluateExpression, MATCHES_SUBJECT_MAX, parseExpression } from './expression.js'
import { createVariableContext, type RequestView } from './variables.js'

const request: RequestView = {
  url: '/?n=10&s=abc&v=3.01.23&neg=-2',
  headers: [
    ['host', 'example.com'],
    ['cookie', 'group=Advanced; count=7; name=Ada Lovelace'],
    ['accept-language', 'en-GB, fr'],
    ['user-agent', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/127.0'],
  ],
}

function run(source: string, req: RequestView = request): boolean {
  const parsed = parseExpression(source)
  assert.ok(parsed.ok, `${source} should parse: ${parsed.ok ? '' : parsed.error}`)
  const result = evaluateExpression(parsed, createVariableContext(req))
  assert.equal(result.error, undefined)
  return result.value
}

function error(source: string): string {
  const parsed = parseExpression(source)
  assert.ok(!parsed.ok, `${source} should not parse`)
  const result = evaluateExpression(parsed, createVariableContext(request))
  assert.equal(result.value, false)
  assert.ok(result.error)
  return parsed.error
}

describe('the spec examples (§5, §5.1)', () => {
  test('correct expressions', () => {
    assert.equal(run("$(HTTP_HOST) == 'example.com'"), true)
    assert.equal(run('!(1==1)'), false)
    assert.equal(run("!('a'<='c')"), false)
    assert.equal(run("(1==1)|('abc'=='def')"), true)
    assert.equal(run('(4!=5)&(4==5)'), false)
    assert.equal(run("$(HTTP_COOKIE{group})=='Advanced'"), true)
    assert.equal(run("$(HTTP_COOKIE{group})=='Basic User'"), false)
  })

  test('expressions that "will not evaluate"', () => {
    assert.match(error('(1 & 4)'), /literal is not a condition/)
    assert.match(error('("abc" | "edf")'), /single-quoted/)
  })
})

describe('operators', () => {
  test('all six comparisons, numeric when both operands are numbers', () => {
    assert.equal(run('2 < 10'), true)
    assert.equal(run("'2' < '10'"), true, 'numeric after expansion: loosely typed')
    assert.equal(run("'b' < 'a10'"), false, 'string comparison otherwise')
    assert.equal(run('$(QUERY_STRING{n}) >= 10'), true)
    assert.equal(run('$(QUERY_STRING{n}) > 9.5'), true)
    assert.equal(run('$(QUERY_STRING{n}) <= 9'), false)
    assert.equal(run('$(QUERY_STRING{neg}) < -1'), true)
    assert.equal(run("$(QUERY_STRING{n}) == '10.0'"), true)
    assert.equal(run("$(QUERY_STRING{v}) > '3.01.1'"), true, '3.01.23 is not a number: compared as strings')
    assert.equal(run("$(QUERY_STRING{s}) != 'abd'"), true)
  })

  test('precedence: comparison, then !, then &, then | (§5.1)', () => {
    assert.equal(run("!$(HTTP_HOST)=='x'"), true, '! applies to the comparison')
    assert.equal(run('1==1 | 1==2 & 1==2'), true, '& binds tighter than |')
    assert.equal(run('(1==1 | 1==2) & 1==2'), false)
    assert.equal(run('!1==2 & !2==3'), true)
    assert.equal(run('!!1==1'), true)
  })

  test('an empty or undefined operand makes the comparison false (§5.1), != included', () => {
    assert.equal(run("$(HTTP_COOKIE{nope}) == ''"), false)
    assert.equal(run("$(HTTP_COOKIE{nope}) != 'x'"), false)
    assert.equal(run("!($(HTTP_COOKIE{nope}) == 'x')"), true)
    assert.equal(run("$(HTTP_COOKIE{nope}|'x') == 'x'"), true, 'a default counts')
  })

  test('a variable alone is a condition; lists are booleans (§4.1.2)', () => {
    assert.equal(run('$(HTTP_ACCEPT_LANGUAGE{en})'), true)
    assert.equal(run('$(HTTP_ACCEPT_LANGUAGE{de})'), false)
    assert.equal(run('!$(HTTP_ACCEPT_LANGUAGE{de}) & $(HTTP_ACCEPT_LANGUAGE{fr})'), true)
    assert.equal(run("$(HTTP_ACCEPT_LANGUAGE{fr}) == 'true'"), true)
    assert.equal(run('$(HTTP_COOKIE{group})'), true)
    assert.equal(run('$(HTTP_COOKIE{nope})'), false)
    assert.equal(run("$(HTTP_USER_AGENT{os}) == 'UNIX' & $(HTTP_USER_AGENT{browser}) == 'MOZILLA'"), true)
  })

  test('literals: escapes and triple quotes', () => {
    assert.equal(run("'it\\'s' == 'it\\'s'"), true)
    assert.equal(run("$(HTTP_COOKIE{name}) == 'Ada Lovelace'"), true)
    assert.equal(run("'''a'b''' has \"'\"".replace('"\'"', "'\\''")), true)
  })

  test('has, has_i, matches, matches_i (extensions)', () => {
    assert.equal(run("$(HTTP_COOKIE{name}) has 'Love'"), true)
    assert.equal(run("$(HTTP_COOKIE{name}) has 'love'"), false)
    assert.equal(run("$(HTTP_COOKIE{name}) has_i 'LOVE'"), true)
    assert.equal(run("$(HTTP_USER_AGENT) matches '''Firefox/1[0-9]{2}'''"), true)
    assert.equal(run("$(HTTP_USER_AGENT) matches 'firefox'"), false)
    assert.equal(run("$(HTTP_USER_AGENT) matches_i 'firefox'"), true)
    assert.equal(run("$(HTTP_COOKIE{nope}) matches '.*'"), false, 'empty operand')
  })

  test('matches looks at the first MATCHES_SUBJECT_MAX characters only', () => {
    const long = { url: `/?q=${'a'.repeat(MATCHES_SUBJECT_MAX)}b`, headers: [] }
    assert.equal(run("$(QUERY_STRING{q}) matches 'b'", long), false)
    assert.equal(run("$(QUERY_STRING{q}) has 'b'", long), true)
  })
})

describe('parse errors are values, never exceptions', () => {
  test('each names the problem and where', () => {
    assert.match(error(''), /empty/)
    assert.match(error('1 == 2 == 3'), /chained/)
    assert.match(error("'a' = 'a'"), /use "=="/)
    assert.match(error("('a' == 'a'"), /missing "\)"/)
    assert.match(error("'a' == 'a')"), /unbalanced/)
    assert.match(error("'abc"), /unterminated/)
    assert.match(error("'''abc"), /unterminated/)
    assert.match(error('$(HTTP_HOST == 1'), /variable reference/)
    assert.match(error('1.05a == 1'), /malformed number/)
    assert.match(error("'a' ==   "), /end of expression/)
    assert.match(error("$(HTTP_HOST)has'a'"), /whitespace/)
    assert.match(error("$(HTTP_HOST) matches $(HTTP_HOST)"), /must be a literal/)
    assert.match(error("$(HTTP_HOST) matches '('"), /invalid regular expression/)
    assert.match(error("'a'"), /literal is not a condition/)
    assert.match(error('== 1'), /expected a value/)
    assert.match(error('1 # 2'), /unexpected "#"/)
    assert.match(error('x'.repeat(5000)), /longer than/)
    const parsed = parseExpression("1 == 1 & 'a")
    assert.ok(!parsed.ok && parsed.at === 9)
  })

  test('random garbage never throws', () => {
    const alphabet = ["'", '(', ')', '$', '{', '}', '|', '&', '!', '=', '<', '>', ' ', 'a', '1', '-', '.', 'has', 'HTTP_HOST', '\\', '"']
    let seed = 7
    for (let i = 0; i < 3000; i++) {
      let s = ''
      const n = (seed = (seed * 1103515245 + 12345) >>> 0) % 20
      for (let k = 0; k < n; k++) s += alphabet[(seed = (seed * 1103515245 + 12345) >>> 0) % alphabet.length]
      const parsed = parseExpression(s)
      const result = evaluateExpression(parsed, createVariableContext(request))
      assert.equal(typeof result.value, 'boolean')
      if (!parsed.ok) assert.equal(result.value, false)
    }
  })
})

test('the parsed tree is plain JSON', () => {
  const parsed = parseExpression("!($(HTTP_COOKIE{a}|'x') == 'b') & 1 < 2")
  assert.deepEqual(JSON.parse(JSON.stringify(parsed)), parsed)
  assert.ok(parsed.ok)
  assert.deepEqual(parsed.ast, {
    op: 'and',
    left: { op: 'not', arg: { op: '==', left: { op: 'var', ref: { name: 'HTTP_COOKIE', key: 'a', default: 'x' } }, right: { op: 'literal', value: 'b' } } },
    right: { op: '<', left: { op: 'literal', value: '1' }, right: { op: 'literal', value: '2' } },
  })
})
