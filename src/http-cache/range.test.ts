/**
 * Unit tests for http-cache/range: one byte range from a complete stored body (RFC 9110 §14),
 * with If-Range (§13.1.5).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { HeaderList } from './header-list.js'
import { formatHttpDate } from './http-date.js'
import { resolveRange } from './range.js'

const LM = Date.UTC(2024, 0, 1, 0, 0, 0)
const STORED: HeaderList = [['etag', '"v1"'], ['last-modified', formatHttpDate(LM)]]
const range = (value: string, size = 10, extra: HeaderList = [], stored: HeaderList = STORED) =>
  resolveRange([['range', value], ...extra], stored, size)

describe('resolveRange', () => {
  test('no Range: the full body', () => {
    assert.deepEqual(resolveRange([], STORED, 10), { kind: 'full' })
  })

  test('first-last', () => {
    assert.deepEqual(range('bytes=0-4'), { kind: 'partial', start: 0, end: 4 })
    assert.deepEqual(range('bytes=3-3'), { kind: 'partial', start: 3, end: 3 })
    assert.deepEqual(range('bytes=9-9'), { kind: 'partial', start: 9, end: 9 })
  })

  test('a last-pos past the end is clamped to the last byte', () => {
    assert.deepEqual(range('bytes=0-100'), { kind: 'partial', start: 0, end: 9 })
    assert.deepEqual(range('bytes=5-10'), { kind: 'partial', start: 5, end: 9 })
  })

  test('open-ended first-', () => {
    assert.deepEqual(range('bytes=5-'), { kind: 'partial', start: 5, end: 9 })
    assert.deepEqual(range('bytes=0-'), { kind: 'partial', start: 0, end: 9 })
  })

  test('suffix -N: the last N bytes', () => {
    assert.deepEqual(range('bytes=-3'), { kind: 'partial', start: 7, end: 9 })
    assert.deepEqual(range('bytes=-10'), { kind: 'partial', start: 0, end: 9 })
  })

  test('a suffix longer than the body is the whole body', () => {
    assert.deepEqual(range('bytes=-20'), { kind: 'partial', start: 0, end: 9 })
  })

  test('a zero-length suffix is unsatisfiable', () => {
    assert.deepEqual(range('bytes=-0'), { kind: 'unsatisfiable' })
  })

  test('a first-pos at or past the end is unsatisfiable', () => {
    assert.deepEqual(range('bytes=10-'), { kind: 'unsatisfiable' })
    assert.deepEqual(range('bytes=10-20'), { kind: 'unsatisfiable' })
    assert.deepEqual(range('bytes=20-30'), { kind: 'unsatisfiable' })
  })

  test('last-pos before first-pos is invalid and ignored', () => {
    assert.deepEqual(range('bytes=5-2'), { kind: 'full' })
  })

  test('several ranges are answered with the full body', () => {
    assert.deepEqual(range('bytes=0-1,3-4'), { kind: 'full' })
    assert.deepEqual(range('bytes=0-1, -2'), { kind: 'full' })
  })

  test('other units or bad syntax are ignored', () => {
    for (const value of ['items=0-1', 'bytes=-', 'bytes=a-b', 'bytes 0-1', 'bytes=', '0-1', 'bytes=1.5-2']) {
      assert.deepEqual(range(value), { kind: 'full' }, value)
    }
  })

  test('the range unit is case-insensitive', () => {
    assert.deepEqual(range('Bytes=0-1'), { kind: 'partial', start: 0, end: 1 })
  })

  test('on an empty body a range starting at 0 is unsatisfiable', () => {
    assert.deepEqual(range('bytes=0-', 0), { kind: 'unsatisfiable' })
    assert.deepEqual(range('bytes=0-0', 0), { kind: 'unsatisfiable' })
  })

  test('on an empty body a suffix range never yields a partial answer with end < start', () => {
    // a 206 would need Content-Range "bytes 0--1/0", which is not valid (RFC 9110 §14.4);
    // the server may ignore Range (§14.2), so the whole (empty) body is sent with 200
    assert.deepEqual(range('bytes=-5', 0), { kind: 'full' })
  })

  describe('If-Range', () => {
    test('a strong ETag equal to the stored one: the range applies', () => {
      assert.deepEqual(range('bytes=0-1', 10, [['if-range', '"v1"']]), { kind: 'partial', start: 0, end: 1 })
    })

    test('a different ETag: the full body', () => {
      assert.deepEqual(range('bytes=0-1', 10, [['if-range', '"v2"']]), { kind: 'full' })
    })

    test('a weak ETag in If-Range never matches', () => {
      assert.deepEqual(range('bytes=0-1', 10, [['if-range', 'W/"v1"']]), { kind: 'full' })
    })

    test('a stored weak ETag never matches (strong comparison)', () => {
      assert.deepEqual(range('bytes=0-1', 10, [['if-range', '"v1"']], [['etag', 'W/"v1"']]), { kind: 'full' })
    })

    test('an ETag with nothing stored to compare: the full body', () => {
      assert.deepEqual(range('bytes=0-1', 10, [['if-range', '"v1"']], []), { kind: 'full' })
    })

    test('a date equal to Last-Modified: the range applies', () => {
      assert.deepEqual(range('bytes=0-1', 10, [['if-range', formatHttpDate(LM)]]), { kind: 'partial', start: 0, end: 1 })
    })

    test('a different date: the full body', () => {
      assert.deepEqual(range('bytes=0-1', 10, [['if-range', formatHttpDate(LM + 1000)]]), { kind: 'full' })
      assert.deepEqual(range('bytes=0-1', 10, [['if-range', formatHttpDate(LM - 1000)]]), { kind: 'full' })
    })

    test('a date with no stored Last-Modified, or an invalid date: the full body', () => {
      assert.deepEqual(range('bytes=0-1', 10, [['if-range', formatHttpDate(LM)]], [['etag', '"v1"']]), { kind: 'full' })
      assert.deepEqual(range('bytes=0-1', 10, [['if-range', 'yesterday']]), { kind: 'full' })
    })

    test('If-Range that holds does not make an unsatisfiable range satisfiable', () => {
      assert.deepEqual(range('bytes=50-', 10, [['if-range', '"v1"']]), { kind: 'unsatisfiable' })
    })

    test('If-Range that fails wins over an unsatisfiable range', () => {
      assert.deepEqual(range('bytes=50-', 10, [['if-range', '"v2"']]), { kind: 'full' })
    })
  })
})
