/**
 * Unit tests for http-cache/http-date: HTTP-date (RFC 9110 §5.6.7) in its three forms.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { formatHttpDate, parseHttpDate } from './http-date.js'

/** Sun, 06 Nov 1994 08:49:37 GMT, the RFC's own example */
const EXAMPLE = Date.UTC(1994, 10, 6, 8, 49, 37)

describe('parseHttpDate', () => {
  test('IMF-fixdate', () => {
    assert.equal(EXAMPLE, 784111777000)
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), EXAMPLE)
    assert.equal(parseHttpDate('Thu, 01 Jan 1970 00:00:00 GMT'), 0)
    assert.equal(parseHttpDate('Fri, 31 Dec 9999 23:59:59 GMT'), Date.UTC(9999, 11, 31, 23, 59, 59))
  })

  test('every month name', () => {
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
    months.forEach((name, index) => {
      assert.equal(parseHttpDate(`Mon, 02 ${name} 2023 10:00:00 GMT`), Date.UTC(2023, index, 2, 10, 0, 0), name)
    })
  })

  test('day and month names and GMT are matched without regard to case', () => {
    assert.equal(parseHttpDate('sun, 06 nov 1994 08:49:37 gmt'), EXAMPLE)
    assert.equal(parseHttpDate('SUN, 06 NOV 1994 08:49:37 GMT'), EXAMPLE)
  })

  test('obsolete RFC 850 form', () => {
    assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), EXAMPLE)
    assert.equal(parseHttpDate('Wednesday, 09-Nov-94 08:49:37 GMT'), Date.UTC(1994, 10, 9, 8, 49, 37))
  })

  test('RFC 850 two-digit years: more than 50 years ahead means the past century', () => {
    const nowYear = new Date().getUTCFullYear()
    const century = Math.floor(nowYear / 100) * 100
    const at = (year: number) => Date.UTC(year, 0, 1, 0, 0, 0)
    const rfc850 = (year: number) => `Monday, 01-Jan-${String(year % 100).padStart(2, '0')} 00:00:00 GMT`
    // this year and 50 years ahead keep the century…
    assert.equal(parseHttpDate(rfc850(nowYear)), at(nowYear))
    const in50 = nowYear + 50
    if (Math.floor(in50 / 100) * 100 === century) assert.equal(parseHttpDate(rfc850(in50)), at(in50))
    // …51 years ahead is the previous century
    const in51 = nowYear + 51
    if (Math.floor(in51 / 100) * 100 === century) assert.equal(parseHttpDate(rfc850(in51)), at(in51 - 100))
    const year99 = century + 99 > nowYear + 50 ? century - 1 : century + 99
    assert.equal(parseHttpDate('Sunday, 06-Nov-99 08:49:37 GMT'), Date.UTC(year99, 10, 6, 8, 49, 37))
  })

  test('RFC 850 needs the long day name', () => {
    assert.equal(parseHttpDate('Sun, 06-Nov-94 08:49:37 GMT'), undefined)
    assert.equal(parseHttpDate('Someday, 06-Nov-94 08:49:37 GMT'), undefined)
  })

  test('obsolete asctime form, with a space-padded or two-digit day', () => {
    assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), EXAMPLE)
    assert.equal(parseHttpDate('Wed Nov 16 08:49:37 1994'), Date.UTC(1994, 10, 16, 8, 49, 37))
  })

  test('asctime with a single space before a one-digit day is invalid', () => {
    assert.equal(parseHttpDate('Sun Nov 6 08:49:37 1994'), undefined)
  })

  test('a two-digit year in IMF-fixdate is invalid', () => {
    assert.equal(parseHttpDate('Thu, 18 Aug 50 02:01:18 GMT'), undefined)
  })

  test('a zone other than GMT is invalid', () => {
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 UTC'), undefined)
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 +0000'), undefined)
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37'), undefined)
    assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 UTC'), undefined)
  })

  test('extra spaces are invalid', () => {
    assert.equal(parseHttpDate('Sun,  06 Nov 1994 08:49:37 GMT'), undefined)
    assert.equal(parseHttpDate('Sun, 06  Nov 1994 08:49:37 GMT'), undefined)
    assert.equal(parseHttpDate('Sun, 06 Nov 1994  08:49:37 GMT'), undefined)
    assert.equal(parseHttpDate(' Sun, 06 Nov 1994 08:49:37 GMT'), undefined)
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT '), undefined)
  })

  test('one-digit hour, minute, second or day is invalid', () => {
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 8:49:37 GMT'), undefined)
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:4:37 GMT'), undefined)
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:7 GMT'), undefined)
    assert.equal(parseHttpDate('Sun, 6 Nov 1994 08:49:37 GMT'), undefined)
  })

  test('out-of-range fields are invalid', () => {
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 24:00:00 GMT'), undefined)
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:60:00 GMT'), undefined)
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:61 GMT'), undefined)
    assert.equal(parseHttpDate('Sun, 00 Nov 1994 08:49:37 GMT'), undefined)
    assert.equal(parseHttpDate('Sun, 32 Nov 1994 08:49:37 GMT'), undefined)
  })

  test('unknown day or month names are invalid', () => {
    assert.equal(parseHttpDate('Xyz, 06 Nov 1994 08:49:37 GMT'), undefined)
    assert.equal(parseHttpDate('Sun, 06 Foo 1994 08:49:37 GMT'), undefined)
    assert.equal(parseHttpDate('Sunday, 06 Nov 1994 08:49:37 GMT'), undefined)
    assert.equal(parseHttpDate('Xyz Nov  6 08:49:37 1994'), undefined)
  })

  test('other text is invalid', () => {
    for (const text of [undefined, '', '0', '-1', 'now', '1994-11-06T08:49:37Z', '784111777', 'Sun, 06 Nov 1994']) {
      assert.equal(parseHttpDate(text), undefined, String(text))
    }
  })
})

describe('formatHttpDate', () => {
  test('formats as IMF-fixdate', () => {
    assert.equal(formatHttpDate(EXAMPLE), 'Sun, 06 Nov 1994 08:49:37 GMT')
    assert.equal(formatHttpDate(0), 'Thu, 01 Jan 1970 00:00:00 GMT')
  })

  test('drops milliseconds', () => {
    assert.equal(formatHttpDate(EXAMPLE + 999), 'Sun, 06 Nov 1994 08:49:37 GMT')
  })

  test('round-trips through parseHttpDate', () => {
    const t = Date.UTC(2024, 1, 29, 23, 59, 59)
    assert.equal(parseHttpDate(formatHttpDate(t)), t)
  })
})
