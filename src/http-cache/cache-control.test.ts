/**
 * Unit tests for http-cache/cache-control: delta-seconds (RFC 9111 §1.2.2), Cache-Control
 * (RFC 9111 §5.2) and CDN-Cache-Control as a Structured Field Dictionary (RFC 9213, RFC 8941).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  DELTA_SECONDS_MAX, parseCacheControl, parseCdnCacheControl, parseDeltaSeconds, parseSfDictionary, splitDirectives,
} from './cache-control.js'

describe('parseDeltaSeconds', () => {
  test('reads 1*DIGIT', () => {
    assert.equal(parseDeltaSeconds('0'), 0)
    assert.equal(parseDeltaSeconds('60'), 60)
    assert.equal(parseDeltaSeconds('3600'), 3600)
  })

  test('accepts leading zeros', () => {
    assert.equal(parseDeltaSeconds('0060'), 60)
    assert.equal(parseDeltaSeconds('000'), 0)
  })

  test('rejects anything that is not only digits', () => {
    for (const text of ['', '-1', '+1', '1.5', '1.0', ' 60', '60 ', '6 0', 'abc', '0x10', '1e3', "'60'", '"60"']) {
      assert.equal(parseDeltaSeconds(text), undefined, JSON.stringify(text))
    }
  })

  test('caps values above 2^31 at 2147483648 (RFC 9111 §1.2.2)', () => {
    assert.equal(DELTA_SECONDS_MAX, 2147483648)
    assert.equal(parseDeltaSeconds('2147483647'), 2147483647)
    assert.equal(parseDeltaSeconds('2147483648'), 2147483648)
    assert.equal(parseDeltaSeconds('2147483649'), 2147483648)
    assert.equal(parseDeltaSeconds('99999999999999999999999999'), 2147483648)
  })
})

describe('splitDirectives', () => {
  test('splits names and values and lower-cases names', () => {
    assert.deepEqual(splitDirectives('Max-Age=60, No-Cache, PUBLIC'), [['max-age', '60'], ['no-cache', undefined], ['public', undefined]])
  })

  test('keeps the case of values', () => {
    assert.deepEqual(splitDirectives('x-ext=AbC'), [['x-ext', 'AbC']])
  })

  test('skips empty list members and surrounding whitespace', () => {
    assert.deepEqual(splitDirectives(' ,, max-age=1 ,\t, public ,'), [['max-age', '1'], ['public', undefined]])
    assert.deepEqual(splitDirectives(''), [])
    assert.deepEqual(splitDirectives(' , '), [])
  })

  test('unquotes a quoted-string value, so a comma inside quotes is not a separator', () => {
    assert.deepEqual(splitDirectives('no-cache="set-cookie, x-foo", max-age=5'), [['no-cache', 'set-cookie, x-foo'], ['max-age', '5']])
  })

  test('a directive inside a quoted string is not taken as a directive', () => {
    assert.deepEqual(splitDirectives('private="max-age=999", s-maxage=1'), [['private', 'max-age=999'], ['s-maxage', '1']])
  })

  test('handles backslash escapes inside quoted strings', () => {
    assert.deepEqual(splitDirectives('x="a\\"b", y=1'), [['x', 'a"b'], ['y', '1']])
  })

  test('drops garbage between a closing quote and the next comma', () => {
    assert.deepEqual(splitDirectives('max-age="60"junk, public'), [['max-age', '60'], ['public', undefined]])
  })

  test('an empty value after = is an empty string, not undefined', () => {
    assert.deepEqual(splitDirectives('max-age='), [['max-age', '']])
  })
})

describe('parseCacheControl', () => {
  test('no field gives all flags false and no numbers', () => {
    assert.deepEqual(parseCacheControl(undefined), {
      noStore: false, noCache: false, isPrivate: false, isPublic: false, mustRevalidate: false,
      proxyRevalidate: false, mustUnderstand: false, immutable: false, noTransform: false, onlyIfCached: false,
    })
    assert.deepEqual(parseCacheControl([]), parseCacheControl(undefined))
    assert.deepEqual(parseCacheControl(''), parseCacheControl(undefined))
  })

  test('max-age', () => {
    assert.equal(parseCacheControl('max-age=60').maxAge, 60)
    assert.equal(parseCacheControl('max-age=0').maxAge, 0)
  })

  test('directive names are case-insensitive', () => {
    const cc = parseCacheControl('MAX-AGE=30, No-Store, S-MaxAge=10')
    assert.equal(cc.maxAge, 30)
    assert.equal(cc.sMaxage, 10)
    assert.equal(cc.noStore, true)
  })

  test('a quoted max-age is accepted (RFC 9111 §5.2: recipients accept both forms)', () => {
    assert.equal(parseCacheControl('max-age="60"').maxAge, 60)
    assert.equal(parseCacheControl('s-maxage="5"').sMaxage, 5)
  })

  test('a single-quoted max-age is invalid and means stale (-1)', () => {
    assert.equal(parseCacheControl("max-age='60'").maxAge, -1)
  })

  test('leading zeros are read as decimal', () => {
    assert.equal(parseCacheControl('max-age=0060').maxAge, 60)
    assert.equal(parseCacheControl('s-maxage=007').sMaxage, 7)
  })

  test('a negative, fractional, textual or missing max-age is invalid (-1)', () => {
    assert.equal(parseCacheControl('max-age=-1').maxAge, -1)
    assert.equal(parseCacheControl('max-age=-7200').maxAge, -1)
    assert.equal(parseCacheControl('max-age=1.5').maxAge, -1)
    assert.equal(parseCacheControl('max-age=abc').maxAge, -1)
    assert.equal(parseCacheControl('max-age').maxAge, -1)
    assert.equal(parseCacheControl('max-age=').maxAge, -1)
    assert.equal(parseCacheControl('s-maxage=-5').sMaxage, -1)
  })

  test('an overflowing max-age is taken as 2147483648', () => {
    assert.equal(parseCacheControl('max-age=2147483648').maxAge, 2147483648)
    assert.equal(parseCacheControl('max-age=2147483649').maxAge, 2147483648)
    assert.equal(parseCacheControl('max-age=99999999999').maxAge, 2147483648)
    assert.equal(parseCacheControl('s-maxage=99999999999999999999').sMaxage, 2147483648)
  })

  test('with a directive given twice on one line the first wins', () => {
    assert.equal(parseCacheControl('max-age=1800, max-age=1').maxAge, 1800)
    assert.equal(parseCacheControl('max-age=1, max-age=1800').maxAge, 1)
    assert.equal(parseCacheControl('s-maxage=10, s-maxage=100').sMaxage, 10)
  })

  test('with a directive given on two lines the first line wins', () => {
    assert.equal(parseCacheControl(['max-age=1800', 'max-age=1']).maxAge, 1800)
    assert.equal(parseCacheControl(['max-age=1', 'max-age=1800']).maxAge, 1)
  })

  test('an invalid first occurrence still wins over a later valid one', () => {
    assert.equal(parseCacheControl('max-age=abc, max-age=60').maxAge, -1)
  })

  test('directives from several lines are combined', () => {
    const cc = parseCacheControl(['public', 'max-age=60', 'must-revalidate'])
    assert.equal(cc.isPublic, true)
    assert.equal(cc.maxAge, 60)
    assert.equal(cc.mustRevalidate, true)
  })

  test('every boolean directive sets its flag', () => {
    const cc = parseCacheControl('no-store, no-cache, private, public, must-revalidate, proxy-revalidate, must-understand, immutable, no-transform, only-if-cached')
    assert.deepEqual(cc, {
      noStore: true, noCache: true, isPrivate: true, isPublic: true, mustRevalidate: true,
      proxyRevalidate: true, mustUnderstand: true, immutable: true, noTransform: true, onlyIfCached: true,
    })
  })

  test('the field-list forms of no-cache and private act like the plain forms', () => {
    assert.equal(parseCacheControl('no-cache="set-cookie"').noCache, true)
    assert.equal(parseCacheControl('private="x-user"').isPrivate, true)
  })

  test('a max-age inside a quoted field list is not taken as max-age', () => {
    const cc = parseCacheControl('no-cache="a, max-age=999", max-age=5')
    assert.equal(cc.noCache, true)
    assert.equal(cc.maxAge, 5)
  })

  test('unknown extension directives are ignored', () => {
    const cc = parseCacheControl('foo=bar, x-ext="1, 2", max-age=7, baz')
    assert.equal(cc.maxAge, 7)
    assert.deepEqual(Object.keys(cc).sort(), [...Object.keys(parseCacheControl(undefined)), 'maxAge'].sort())
  })

  test('stale-while-revalidate and stale-if-error (RFC 5861), ignored when invalid', () => {
    const cc = parseCacheControl('stale-while-revalidate=30, stale-if-error=600')
    assert.equal(cc.staleWhileRevalidate, 30)
    assert.equal(cc.staleIfError, 600)
    const bad = parseCacheControl('stale-while-revalidate=abc, stale-if-error=-1')
    assert.equal(bad.staleWhileRevalidate, undefined)
    assert.equal(bad.staleIfError, undefined)
    assert.equal(parseCacheControl('stale-while-revalidate').staleWhileRevalidate, undefined)
  })

  test('max-stale: without a value means any staleness; with one, that many seconds', () => {
    assert.equal(parseCacheControl('max-stale').maxStale, 2147483648)
    assert.equal(parseCacheControl('max-stale=10').maxStale, 10)
    assert.equal(parseCacheControl('max-stale=abc').maxStale, 0)
  })

  test('min-fresh', () => {
    assert.equal(parseCacheControl('min-fresh=20').minFresh, 20)
    assert.equal(parseCacheControl('min-fresh=-3').minFresh, 0)
    assert.equal(parseCacheControl('min-fresh').minFresh, 0)
  })

  test('whitespace after a value is ignored', () => {
    assert.equal(parseCacheControl('max-age=60 , public').maxAge, 60)
    assert.equal(parseCacheControl('max-age=60\t').maxAge, 60)
  })
})

describe('parseSfDictionary (RFC 8941 §4.2.2)', () => {
  test('parses every bare item type', () => {
    assert.deepEqual(parseSfDictionary('a=1, b=-2, c=1.5, d="x y", e=tok/en, f=?0, g=?1, h=:aGk=:, i'), [
      ['a', 1], ['b', -2], ['c', { decimal: 1.5 }], ['d', 'x y'], ['e', 'tok/en'], ['f', false], ['g', true], ['h', 'aGk='], ['i', true],
    ])
  })

  test('keys may start with * and contain digits, _ - . *', () => {
    assert.deepEqual(parseSfDictionary('*k=1, a1_-.*=2'), [['*k', 1], ['a1_-.*', 2]])
  })

  test('parameters are skipped', () => {
    assert.deepEqual(parseSfDictionary('max-age=60;foo=bar;baz, private;x'), [['max-age', 60], ['private', true]])
  })

  test('string escapes', () => {
    assert.deepEqual(parseSfDictionary('a="q\\"b\\\\"'), [['a', 'q"b\\']])
  })

  test('tabs and spaces around commas are allowed, a leading space too', () => {
    assert.deepEqual(parseSfDictionary(' a=1 ,\tb=2'), [['a', 1], ['b', 2]])
  })

  test('invalid dictionaries give undefined', () => {
    const invalid = [
      '', ' ', 'A=1', 'Max-Age=1', '1a=1', 'a=', 'a=1,', 'a=1, ', 'a=1 b=2', 'a=(1 2)', 'a="open', 'a="\\x"',
      'a=?2', 'a=:not base64!:', 'a=&', 'a=1, &&&&&', 'a=1.2345', 'a=1234567890123456', 'a=1.', 'a=1;', 'a=1;b=',
      'a =1', 'a= 1',
    ]
    for (const text of invalid) assert.equal(parseSfDictionary(text), undefined, JSON.stringify(text))
  })

  test('a 15-digit integer is the largest accepted', () => {
    assert.deepEqual(parseSfDictionary('a=999999999999999'), [['a', 999999999999999]])
  })
})

describe('parseCdnCacheControl (RFC 9213)', () => {
  test('absent or empty field lines give undefined', () => {
    assert.equal(parseCdnCacheControl(undefined), undefined)
    assert.equal(parseCdnCacheControl([]), undefined)
    assert.equal(parseCdnCacheControl(['']), undefined)
  })

  test('reads max-age and s-maxage as Integers', () => {
    const cc = parseCdnCacheControl(['max-age=3600'])!
    assert.equal(cc.maxAge, 3600)
    assert.equal(cc.sMaxage, undefined)
    assert.equal(parseCdnCacheControl(['s-maxage=10'])!.sMaxage, 10)
  })

  test('max-age=0 is kept as 0', () => {
    assert.equal(parseCdnCacheControl(['max-age=0'])!.maxAge, 0)
  })

  test('stale-while-revalidate and stale-if-error', () => {
    const cc = parseCdnCacheControl(['stale-while-revalidate=30, stale-if-error=60'])!
    assert.equal(cc.staleWhileRevalidate, 30)
    assert.equal(cc.staleIfError, 60)
  })

  test('a Decimal max-age makes the field invalid (max-age=1.5)', () => {
    assert.equal(parseCdnCacheControl(['max-age=1.5']), undefined)
  })

  test('a Decimal max-age with a zero fraction is still a Decimal, not an Integer (max-age=1.0)', () => {
    // RFC 8941 §3.3.2: 1.0 is a Decimal; the directive takes an Integer, so the field is invalid
    assert.equal(parseCdnCacheControl(['max-age=1.0']), undefined)
  })

  test('a String max-age makes the field invalid (max-age="1")', () => {
    assert.equal(parseCdnCacheControl(['max-age="1"']), undefined)
    assert.equal(parseCdnCacheControl(['max-age="10000"']), undefined)
  })

  test('a Token or Boolean max-age makes the field invalid', () => {
    assert.equal(parseCdnCacheControl(['max-age=abc']), undefined)
    assert.equal(parseCdnCacheControl(['max-age=?1']), undefined)
    assert.equal(parseCdnCacheControl(['max-age']), undefined)
  })

  test('an invalid Structured Field anywhere makes the whole field invalid', () => {
    assert.equal(parseCdnCacheControl(['max-age=10000, &&&&&']), undefined)
    assert.equal(parseCdnCacheControl(['max-age =100']), undefined)
    assert.equal(parseCdnCacheControl(['max-age= 100']), undefined)
    assert.equal(parseCdnCacheControl(['MaX-aGe=3600']), undefined)
  })

  test('a negative Integer means stale (-1)', () => {
    assert.equal(parseCdnCacheControl(['max-age=-5'])!.maxAge, -1)
  })

  test('an Integer above 2^31 is capped at 2147483648', () => {
    assert.equal(parseCdnCacheControl(['max-age=2147483648'])!.maxAge, 2147483648)
    assert.equal(parseCdnCacheControl(['max-age=99999999999'])!.maxAge, 2147483648)
  })

  test('boolean directives, and ?0 turns one off', () => {
    const cc = parseCdnCacheControl(['no-store, no-cache, private, public, must-revalidate, proxy-revalidate, immutable'])!
    assert.equal(cc.noStore, true)
    assert.equal(cc.noCache, true)
    assert.equal(cc.isPrivate, true)
    assert.equal(cc.isPublic, true)
    assert.equal(cc.mustRevalidate, true)
    assert.equal(cc.proxyRevalidate, true)
    assert.equal(cc.immutable, true)
    assert.equal(parseCdnCacheControl(['no-store=?0'])!.noStore, false)
  })

  test('unknown members are ignored but the field stays valid', () => {
    const cc = parseCdnCacheControl(['foobar, max-age=3600'])!
    assert.equal(cc.maxAge, 3600)
    assert.equal(cc.noStore, false)
    const onlyUnknown = parseCdnCacheControl(['foo'])
    assert.notEqual(onlyUnknown, undefined)
    assert.equal(onlyUnknown!.maxAge, undefined)
  })

  test('several field lines are combined as one dictionary', () => {
    const cc = parseCdnCacheControl(['max-age=60', 'no-cache'])!
    assert.equal(cc.maxAge, 60)
    assert.equal(cc.noCache, true)
  })

  test('a repeated key: the last value wins (RFC 8941 §4.2.2 overwrites)', () => {
    assert.equal(parseCdnCacheControl(['max-age=10, max-age=20'])!.maxAge, 20)
  })

  test('parameters on a member are ignored', () => {
    assert.equal(parseCdnCacheControl(['max-age=60;x=1'])!.maxAge, 60)
  })
})
