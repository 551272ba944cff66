import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_PATTERN_LENGTH, compileSafePattern, hasNestedQuantifier } from './safe-regex.js'

test('ordinary ban patterns compile and match', () => {
  const compiled = compileSafePattern('^/products/(shoes|hats)/[0-9]+$')
  assert.ok(compiled.ok)
  assert.equal(compiled.regex.test('/products/hats/12'), true)
  assert.equal(compiled.regex.test('/products/socks/12'), false)
  for (const ok of ['\\.jpg$', '^/p/\\d+\\?color=red', '(abc)?d+', '[(]+', 'a{2,5}b', '(a|aa)*b']) assert.ok(compileSafePattern(ok).ok, ok)
})

test('catastrophic-backtracking shapes are refused with a reason', () => {
  for (const bad of ['(a+)+$', '(a*)*', '(x+x+)+y', '((ab)*c)*', '(.*a){1,20}', '^(\\w+\\s?)+$']) {
    const compiled = compileSafePattern(bad)
    assert.equal(compiled.ok, false, bad)
    assert.match(!compiled.ok ? compiled.reason : '', /nests quantifiers/, bad)
  }
})

test('back-references and look-around are refused (they need backtracking)', () => {
  for (const bad of ['(a)\\1', '(?=a)b', '(?<!x)y', '(?<n>a)\\k<n>']) {
    const compiled = compileSafePattern(bad)
    assert.equal(compiled.ok, false, bad)
    assert.match(!compiled.ok ? compiled.reason : '', /cannot run in linear time/, bad)
  }
})

test('invalid, empty and over-long patterns are refused', () => {
  assert.match((compileSafePattern('[unclosed') as { reason: string }).reason, /not a valid regular expression/)
  assert.match((compileSafePattern('') as { reason: string }).reason, /empty/)
  assert.match((compileSafePattern('a'.repeat(MAX_PATTERN_LENGTH + 1)) as { reason: string }).reason, /longer than/)
})

test('an accepted pattern runs in linear time on a hostile input', () => {
  const compiled = compileSafePattern('(a|aa)*b')
  assert.ok(compiled.ok)
  // exponential in a backtracking engine; the linear engine answers at once
  assert.equal(compiled.regex.test('a'.repeat(5000)), false)
})

test('hasNestedQuantifier: star height', () => {
  assert.equal(hasNestedQuantifier('(a+)+'), true)
  assert.equal(hasNestedQuantifier('(a+)?'), false)
  assert.equal(hasNestedQuantifier('(a+)b+'), false)
  assert.equal(hasNestedQuantifier('[(a+)]+'), false)
  assert.equal(hasNestedQuantifier('\\(a+\\)+'), false)
})
