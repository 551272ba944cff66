/**
 * Unit tests for http-cache/header-list: the ordered `[name, value]` header representation.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  fromRaw, getAll, getCombined, getFirst, has, removeHeader, setHeader, splitList, toRaw, without, type HeaderList,
} from './header-list.js'

const sample = (): HeaderList => [['a', '1'], ['b', '2'], ['a', '3'], ['c', '']]

describe('reading', () => {
  test('getAll returns every line in order, or none', () => {
    assert.deepEqual(getAll(sample(), 'a'), ['1', '3'])
    assert.deepEqual(getAll(sample(), 'c'), [''])
    assert.deepEqual(getAll(sample(), 'z'), [])
  })

  test('names are matched exactly (callers pass lower case)', () => {
    assert.deepEqual(getAll(sample(), 'A'), [])
    assert.equal(has(sample(), 'B'), false)
  })

  test('getCombined joins lines with ", " (RFC 9110 §5.3)', () => {
    assert.equal(getCombined(sample(), 'a'), '1, 3')
    assert.equal(getCombined(sample(), 'b'), '2')
    assert.equal(getCombined(sample(), 'c'), '')
    assert.equal(getCombined(sample(), 'z'), undefined)
  })

  test('getFirst returns the first line', () => {
    assert.equal(getFirst(sample(), 'a'), '1')
    assert.equal(getFirst(sample(), 'c'), '')
    assert.equal(getFirst(sample(), 'z'), undefined)
  })

  test('has', () => {
    assert.equal(has(sample(), 'c'), true)
    assert.equal(has(sample(), 'z'), false)
    assert.equal(has([], 'a'), false)
  })
})

describe('copying and changing', () => {
  test('without drops the named fields and returns a new list', () => {
    const headers = sample()
    const out = without(headers, new Set(['a', 'c']))
    assert.deepEqual(out, [['b', '2']])
    assert.deepEqual(headers, sample())
    assert.deepEqual(without(headers, new Set()), sample())
    assert.notEqual(without(headers, new Set()), headers)
  })

  test('setHeader replaces every line by one, at the first line\'s position', () => {
    const headers = sample()
    setHeader(headers, 'a', '9')
    assert.deepEqual(headers, [['a', '9'], ['b', '2'], ['c', '']])
  })

  test('setHeader on a single line replaces it in place', () => {
    const headers = sample()
    setHeader(headers, 'b', 'x')
    assert.deepEqual(headers, [['a', '1'], ['b', 'x'], ['a', '3'], ['c', '']])
  })

  test('setHeader appends an absent field', () => {
    const headers = sample()
    setHeader(headers, 'd', '4')
    assert.deepEqual(headers, [...sample(), ['d', '4']])
  })

  test('setHeader with three or more lines keeps one', () => {
    const headers: HeaderList = [['x', '1'], ['y', '0'], ['x', '2'], ['x', '3'], ['z', '0'], ['x', '4']]
    setHeader(headers, 'x', 'n')
    assert.deepEqual(headers, [['x', 'n'], ['y', '0'], ['z', '0']])
  })

  test('removeHeader removes every line and nothing else', () => {
    const headers = sample()
    removeHeader(headers, 'a')
    assert.deepEqual(headers, [['b', '2'], ['c', '']])
    removeHeader(headers, 'z')
    assert.deepEqual(headers, [['b', '2'], ['c', '']])
  })
})

describe('splitList (RFC 9110 §5.6.1)', () => {
  test('trimmed, non-empty members', () => {
    assert.deepEqual(splitList('a, b ,c'), ['a', 'b', 'c'])
    assert.deepEqual(splitList(' , a,, ,b , '), ['a', 'b'])
    assert.deepEqual(splitList('\ta\t'), ['a'])
  })

  test('empty or absent gives none', () => {
    assert.deepEqual(splitList(undefined), [])
    assert.deepEqual(splitList(''), [])
    assert.deepEqual(splitList(' , '), [])
  })
})

describe('raw form', () => {
  test('toRaw flattens in order', () => {
    assert.deepEqual(toRaw(sample()), ['a', '1', 'b', '2', 'a', '3', 'c', ''])
    assert.deepEqual(toRaw([]), [])
  })

  test('fromRaw pairs and lower-cases names but not values', () => {
    assert.deepEqual(fromRaw(['Content-Type', 'Text/HTML', 'X-A', '1', 'x-a', '2']), [['content-type', 'Text/HTML'], ['x-a', '1'], ['x-a', '2']])
  })

  test('fromRaw ignores a trailing name without value', () => {
    assert.deepEqual(fromRaw(['a', '1', 'b']), [['a', '1']])
  })

  test('round trip', () => {
    assert.deepEqual(fromRaw(toRaw(sample())), sample())
  })
})
