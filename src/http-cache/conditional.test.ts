/**
 * Unit tests for http-cache/conditional: client preconditions against a stored response
 * (RFC 9111 §4.3.2, RFC 9110 §13), validators for revalidation (§4.3.1) and 304 selection (§4.3.4).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  NOT_MODIFIED_FIELDS, hasClientConditional, ifNoneMatchMatches, isNotModified, notModifiedSelects, validatorsFor, weakMatch,
} from './conditional.js'
import { formatHttpDate } from './http-date.js'

const T = Date.UTC(2024, 0, 10, 10, 0, 0)
const date = (ms: number) => formatHttpDate(ms)

describe('weakMatch (RFC 9110 §8.8.3.2)', () => {
  test('equal strong tags match', () => {
    assert.equal(weakMatch('"abc"', '"abc"'), true)
  })

  test('a weak tag matches the strong tag with the same opaque-tag, both ways', () => {
    assert.equal(weakMatch('W/"abc"', '"abc"'), true)
    assert.equal(weakMatch('"abc"', 'W/"abc"'), true)
    assert.equal(weakMatch('W/"abc"', 'W/"abc"'), true)
  })

  test('different opaque-tags do not match', () => {
    assert.equal(weakMatch('"abc"', '"abd"'), false)
    assert.equal(weakMatch('W/"abc"', 'W/"xyz"'), false)
  })

  test('opaque-tags are case-sensitive', () => {
    assert.equal(weakMatch('"ABC"', '"abc"'), false)
  })

  test('surrounding whitespace is ignored', () => {
    assert.equal(weakMatch(' "abc" ', '"abc"'), true)
  })
})

describe('ifNoneMatchMatches', () => {
  test('* matches any stored response, with or without ETag', () => {
    assert.equal(ifNoneMatchMatches('*', '"a"'), true)
    assert.equal(ifNoneMatchMatches(' * ', undefined), true)
  })

  test('a listed tag matches with weak comparison', () => {
    assert.equal(ifNoneMatchMatches('"a"', '"a"'), true)
    assert.equal(ifNoneMatchMatches('W/"a"', '"a"'), true)
    assert.equal(ifNoneMatchMatches('"a"', 'W/"a"'), true)
    assert.equal(ifNoneMatchMatches('"x", W/"y", "a"', '"a"'), true)
    assert.equal(ifNoneMatchMatches('"x","a"', '"a"'), true)
  })

  test('no listed tag matches', () => {
    assert.equal(ifNoneMatchMatches('"x", "y"', '"a"'), false)
  })

  test('without a stored ETag only * matches', () => {
    assert.equal(ifNoneMatchMatches('"a"', undefined), false)
  })
})

describe('isNotModified', () => {
  const stored: Array<[string, string]> = [['etag', '"v1"'], ['last-modified', date(T - 3600_000)], ['date', date(T)]]

  test('no precondition: not a 304', () => {
    assert.equal(isNotModified([], stored, T), false)
  })

  test('If-None-Match matching the stored ETag', () => {
    assert.equal(isNotModified([['if-none-match', '"v1"']], stored, T), true)
    assert.equal(isNotModified([['if-none-match', 'W/"v1"']], stored, T), true)
  })

  test('If-None-Match lines are combined', () => {
    assert.equal(isNotModified([['if-none-match', '"v0"'], ['if-none-match', '"v1"']], stored, T), true)
  })

  test('If-None-Match not matching', () => {
    assert.equal(isNotModified([['if-none-match', '"v2"']], stored, T), false)
  })

  test('If-None-Match takes precedence over If-Modified-Since (RFC 9110 §13.2.2)', () => {
    // If-Modified-Since alone would give a 304 here
    assert.equal(isNotModified([['if-none-match', '"v2"'], ['if-modified-since', date(T)]], stored, T), false)
    // and a matching If-None-Match gives one even when If-Modified-Since would not
    assert.equal(isNotModified([['if-modified-since', date(T - 7200_000)], ['if-none-match', '"v1"']], stored, T), true)
  })

  test('If-None-Match against a stored response without ETag never matches, even with If-Modified-Since', () => {
    assert.equal(isNotModified([['if-none-match', '"v1"'], ['if-modified-since', date(T)]], [['last-modified', date(T - 3600_000)]], T), false)
  })

  test('If-Modified-Since at or after Last-Modified', () => {
    assert.equal(isNotModified([['if-modified-since', date(T - 3600_000)]], stored, T), true)
    assert.equal(isNotModified([['if-modified-since', date(T)]], stored, T), true)
  })

  test('If-Modified-Since before Last-Modified', () => {
    assert.equal(isNotModified([['if-modified-since', date(T - 3601_000)]], stored, T), false)
  })

  test('an invalid If-Modified-Since is ignored', () => {
    assert.equal(isNotModified([['if-modified-since', 'yesterday']], stored, T), false)
    assert.equal(isNotModified([['if-modified-since', 'Thu, 18 Aug 50 02:01:18 GMT']], stored, T), false)
  })

  test('without Last-Modified the stored Date is used (RFC 9111 §4.3.2)', () => {
    const noLm: Array<[string, string]> = [['date', date(T)]]
    assert.equal(isNotModified([['if-modified-since', date(T)]], noLm, T + 60_000), true)
    assert.equal(isNotModified([['if-modified-since', date(T - 1000)]], noLm, T - 60_000), false)
  })

  test('without Last-Modified and Date the time it was stored is used', () => {
    assert.equal(isNotModified([['if-modified-since', date(T)]], [], T), true)
    assert.equal(isNotModified([['if-modified-since', date(T)]], [], T + 1000), false)
  })
})

describe('hasClientConditional', () => {
  test('If-None-Match or If-Modified-Since', () => {
    assert.equal(hasClientConditional([['if-none-match', '"a"']]), true)
    assert.equal(hasClientConditional([['accept', '*/*'], ['if-modified-since', date(T)]]), true)
  })

  test('other preconditions and plain requests are not evaluated here', () => {
    assert.equal(hasClientConditional([]), false)
    assert.equal(hasClientConditional([['if-match', '"a"'], ['if-unmodified-since', date(T)], ['if-range', '"a"']]), false)
  })
})

describe('validatorsFor (RFC 9111 §4.3.1)', () => {
  test('ETag becomes If-None-Match and Last-Modified becomes If-Modified-Since', () => {
    assert.deepEqual(validatorsFor([['content-type', 'text/html'], ['last-modified', date(T)], ['etag', 'W/"x"']]),
      [['if-none-match', 'W/"x"'], ['if-modified-since', date(T)]])
  })

  test('only the validators present', () => {
    assert.deepEqual(validatorsFor([['etag', '"x"']]), [['if-none-match', '"x"']])
    assert.deepEqual(validatorsFor([['last-modified', date(T)]]), [['if-modified-since', date(T)]])
    assert.deepEqual(validatorsFor([['date', date(T)]]), [])
  })
})

describe('NOT_MODIFIED_FIELDS (RFC 9110 §15.4.5)', () => {
  test('the fields a 304 carries', () => {
    assert.deepEqual([...NOT_MODIFIED_FIELDS].sort(), ['cache-control', 'content-location', 'date', 'etag', 'expires', 'last-modified', 'vary'])
  })
})

describe('notModifiedSelects (RFC 9111 §4.3.4)', () => {
  test('an ETag in the 304 equal to the stored one selects it', () => {
    assert.equal(notModifiedSelects([['etag', '"a"']], [['etag', '"a"']]), true)
  })

  test('a different ETag does not select it', () => {
    assert.equal(notModifiedSelects([['etag', '"b"']], [['etag', '"a"']]), false)
  })

  test('an ETag in the 304 does not select a stored response without one', () => {
    assert.equal(notModifiedSelects([['etag', '"a"']], [['last-modified', date(T)]]), false)
  })

  test('the ETag decides before Last-Modified', () => {
    assert.equal(notModifiedSelects([['etag', '"b"'], ['last-modified', date(T)]], [['etag', '"a"'], ['last-modified', date(T)]]), false)
  })

  test('without ETag, an equal Last-Modified selects it and a different one does not', () => {
    assert.equal(notModifiedSelects([['last-modified', date(T)]], [['last-modified', date(T)]]), true)
    assert.equal(notModifiedSelects([['last-modified', date(T + 1000)]], [['last-modified', date(T)]]), false)
  })

  test('a 304 without validators selects the stored response', () => {
    assert.equal(notModifiedSelects([['cache-control', 'max-age=60']], [['etag', '"a"']]), true)
    assert.equal(notModifiedSelects([], []), true)
  })
})
