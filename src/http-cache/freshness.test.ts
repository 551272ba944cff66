/**
 * Unit tests for http-cache/freshness: Age (RFC 9111 §5.1), freshness lifetime (§4.2.1),
 * heuristics (§4.2.2) and age calculation (§4.2.3).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseCacheControl, parseCdnCacheControl } from './cache-control.js'
import {
  HEURISTICALLY_CACHEABLE, HEURISTIC_FRACTION, HEURISTIC_MAX_MS, ageHeaderValue, computeFreshness, currentAge,
  dateValue, freshnessLifetime, initialAge, isFresh, parseAge, ttlMs, type Freshness,
} from './freshness.js'
import type { HeaderList } from './header-list.js'
import { formatHttpDate } from './http-date.js'

/** A fixed, whole-second "now" so that HTTP-dates round-trip exactly. */
const NOW = Date.UTC(2024, 5, 1, 12, 0, 0)
const date = (ms: number) => formatHttpDate(ms)
const SECOND = 1000
const DAY = 86_400_000

function lifetime(status: number, headers: HeaderList, responseAt = NOW) {
  return freshnessLifetime(status, headers, parseCacheControl(headers.filter(([k]) => k === 'cache-control').map(([, v]) => v)), false, responseAt)
}

describe('parseAge', () => {
  test('no Age is 0', () => {
    assert.equal(parseAge([]), 0)
  })

  test('delta-seconds', () => {
    assert.equal(parseAge([['age', '60']]), 60)
    assert.equal(parseAge([['age', '0']]), 0)
    assert.equal(parseAge([['age', '0060']]), 60)
  })

  test('invalid values are ignored (0): text, negative, fractional, empty', () => {
    assert.equal(parseAge([['age', 'abc']]), 0)
    assert.equal(parseAge([['age', '-7200']]), 0)
    assert.equal(parseAge([['age', '7200.0']]), 0)
    assert.equal(parseAge([['age', '']]), 0)
    assert.equal(parseAge([['age', '1e3']]), 0)
  })

  test('a list value uses the first member', () => {
    assert.equal(parseAge([['age', '0, 7200']]), 0)
    assert.equal(parseAge([['age', '7200, 0']]), 7200)
  })

  test('several lines use the first line', () => {
    assert.equal(parseAge([['age', '7200'], ['age', '0']]), 7200)
    assert.equal(parseAge([['age', '0'], ['age', '7200']]), 0)
  })

  test('an overflowing Age is capped at 2147483648', () => {
    assert.equal(parseAge([['age', '99999999999999']]), 2147483648)
  })

  test('only the age field is read', () => {
    assert.equal(parseAge([['x-age', '50'], ['cache-control', 'max-age=5']]), 0)
  })
})

describe('dateValue', () => {
  test('a valid Date', () => {
    assert.equal(dateValue([['date', date(NOW - 5000)]], NOW), NOW - 5000)
  })

  test('absent, invalid or repeated Date falls back to the reception time', () => {
    assert.equal(dateValue([], NOW), NOW)
    assert.equal(dateValue([['date', 'yesterday']], NOW), NOW)
    assert.equal(dateValue([['date', date(NOW - 5000)], ['date', date(NOW - 9000)]], NOW), NOW)
  })
})

describe('freshnessLifetime', () => {
  test('s-maxage wins over max-age and Expires', () => {
    assert.deepEqual(lifetime(200, [['cache-control', 'max-age=100, s-maxage=10'], ['date', date(NOW)], ['expires', date(NOW + 1000 * SECOND)]]),
      { lifetimeMs: 10 * SECOND, source: 's-maxage' })
  })

  test('max-age wins over Expires', () => {
    assert.deepEqual(lifetime(200, [['cache-control', 'max-age=100'], ['date', date(NOW)], ['expires', date(NOW - 1000 * SECOND)]]),
      { lifetimeMs: 100 * SECOND, source: 'max-age' })
  })

  test('max-age wins over an invalid Expires', () => {
    assert.deepEqual(lifetime(200, [['cache-control', 'max-age=100'], ['expires', '0']]), { lifetimeMs: 100 * SECOND, source: 'max-age' })
  })

  test('Expires minus Date', () => {
    assert.deepEqual(lifetime(200, [['date', date(NOW - 10 * SECOND)], ['expires', date(NOW + 50 * SECOND)]]),
      { lifetimeMs: 60 * SECOND, source: 'expires' })
  })

  test('Expires without Date is measured from the reception time', () => {
    assert.deepEqual(lifetime(200, [['expires', date(NOW + 30 * SECOND)]]), { lifetimeMs: 30 * SECOND, source: 'expires' })
  })

  test('Expires in the past gives 0', () => {
    assert.deepEqual(lifetime(200, [['date', date(NOW)], ['expires', date(NOW - 30 * SECOND)]]), { lifetimeMs: 0, source: 'expires' })
  })

  test('an invalid Expires means already expired (RFC 9111 §5.3)', () => {
    assert.deepEqual(lifetime(200, [['expires', '0']]), { lifetimeMs: 0, source: 'expires' })
    assert.deepEqual(lifetime(200, [['expires', 'Thu, 18 Aug 50 02:01:18 GMT']]), { lifetimeMs: 0, source: 'expires' })
  })

  test('several Expires lines mean already expired', () => {
    assert.deepEqual(lifetime(200, [['expires', date(NOW + 60 * SECOND)], ['expires', date(NOW + 60 * SECOND)]]), { lifetimeMs: 0, source: 'expires' })
  })

  test('Expires stops the heuristic even when invalid', () => {
    assert.deepEqual(lifetime(200, [['expires', 'never'], ['last-modified', date(NOW - 10 * DAY)]]), { lifetimeMs: 0, source: 'expires' })
  })

  test('a negative (invalid) max-age or s-maxage gives lifetime 0', () => {
    assert.deepEqual(lifetime(200, [['cache-control', 'max-age=-1']]), { lifetimeMs: 0, source: 'max-age' })
    assert.deepEqual(lifetime(200, [['cache-control', 's-maxage=abc']]), { lifetimeMs: 0, source: 's-maxage' })
  })

  test('an overflowing max-age gives 2^31 seconds', () => {
    assert.deepEqual(lifetime(200, [['cache-control', 'max-age=99999999999']]), { lifetimeMs: 2147483648 * SECOND, source: 'max-age' })
  })

  test('the heuristic is 10% of Date − Last-Modified', () => {
    assert.equal(HEURISTIC_FRACTION, 0.1)
    assert.deepEqual(lifetime(200, [['date', date(NOW)], ['last-modified', date(NOW - 5 * 3600 * SECOND)]]),
      { lifetimeMs: 1800 * SECOND, source: 'heuristic' })
  })

  test('the heuristic without Date uses the reception time', () => {
    assert.deepEqual(lifetime(200, [['last-modified', date(NOW - 1000 * SECOND)]]), { lifetimeMs: 100 * SECOND, source: 'heuristic' })
  })

  test('the heuristic is capped at one day', () => {
    assert.equal(HEURISTIC_MAX_MS, DAY)
    assert.deepEqual(lifetime(200, [['date', date(NOW)], ['last-modified', date(NOW - 100 * DAY)]]), { lifetimeMs: DAY, source: 'heuristic' })
  })

  test('the heuristic applies to every heuristically cacheable status', () => {
    assert.deepEqual([...HEURISTICALLY_CACHEABLE].sort((a, b) => a - b), [200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501])
    for (const status of HEURISTICALLY_CACHEABLE) {
      assert.deepEqual(lifetime(status, [['date', date(NOW)], ['last-modified', date(NOW - 1000 * SECOND)]]),
        { lifetimeMs: 100 * SECOND, source: 'heuristic' }, String(status))
    }
  })

  test('no heuristic for other statuses', () => {
    for (const status of [201, 302, 303, 307, 400, 403, 500, 502, 503]) {
      assert.deepEqual(lifetime(status, [['date', date(NOW)], ['last-modified', date(NOW - 1000 * SECOND)]]),
        { lifetimeMs: 0, source: 'none' }, String(status))
    }
  })

  test('public allows the heuristic for any status', () => {
    assert.deepEqual(lifetime(302, [['cache-control', 'public'], ['date', date(NOW)], ['last-modified', date(NOW - 1000 * SECOND)]]),
      { lifetimeMs: 100 * SECOND, source: 'heuristic' })
  })

  test('no heuristic without Last-Modified, or with an invalid or future one', () => {
    assert.deepEqual(lifetime(200, [['date', date(NOW)]]), { lifetimeMs: 0, source: 'none' })
    assert.deepEqual(lifetime(200, [['date', date(NOW)], ['last-modified', 'last week']]), { lifetimeMs: 0, source: 'none' })
    assert.deepEqual(lifetime(200, [['date', date(NOW)], ['last-modified', date(NOW + 1000 * SECOND)]]), { lifetimeMs: 0, source: 'none' })
    assert.deepEqual(lifetime(200, [['date', date(NOW)], ['last-modified', date(NOW)]]), { lifetimeMs: 0, source: 'none' })
  })

  test('a targeted field (CDN-Cache-Control) is the source when it has max-age or s-maxage', () => {
    const cc = parseCdnCacheControl(['max-age=3600'])!
    assert.deepEqual(freshnessLifetime(200, [['expires', date(NOW - 10 * SECOND)], ['date', date(NOW)]], cc, true, NOW),
      { lifetimeMs: 3600 * SECOND, source: 'cdn-cache-control' })
    assert.deepEqual(freshnessLifetime(200, [], parseCdnCacheControl(['s-maxage=5, max-age=100'])!, true, NOW),
      { lifetimeMs: 5 * SECOND, source: 'cdn-cache-control' })
  })

  test('a targeted field without a lifetime ignores Expires and the heuristic', () => {
    const cc = parseCdnCacheControl(['public'])!
    const headers: HeaderList = [['expires', date(NOW + 100 * SECOND)], ['date', date(NOW)], ['last-modified', date(NOW - DAY)]]
    assert.deepEqual(freshnessLifetime(200, headers, cc, true, NOW), { lifetimeMs: 0, source: 'cdn-cache-control' })
  })

  test('CDN-Cache-Control: max-age=0 with a future Expires is stale', () => {
    const cc = parseCdnCacheControl(['max-age=0'])!
    assert.deepEqual(freshnessLifetime(200, [['expires', date(NOW + 100 * SECOND)], ['date', date(NOW)]], cc, true, NOW),
      { lifetimeMs: 0, source: 'cdn-cache-control' })
  })
})

describe('initialAge (corrected_initial_age)', () => {
  test('apparent age from Date', () => {
    assert.equal(initialAge([['date', date(NOW - 10 * SECOND)]], NOW, NOW), 10 * SECOND)
  })

  test('Age plus the response delay', () => {
    assert.equal(initialAge([['date', date(NOW)], ['age', '30']], NOW - 2000, NOW), 32_000)
  })

  test('the larger of apparent age and corrected Age', () => {
    assert.equal(initialAge([['date', date(NOW - 100 * SECOND)], ['age', '30']], NOW, NOW), 100 * SECOND)
    assert.equal(initialAge([['date', date(NOW - 10 * SECOND)], ['age', '7200']], NOW, NOW), 7200 * SECOND)
  })

  test('a Date in the future gives no negative age', () => {
    assert.equal(initialAge([['date', date(NOW + 60 * SECOND)]], NOW, NOW), 0)
  })

  test('no Date and no Age: only the response delay', () => {
    assert.equal(initialAge([], NOW - 250, NOW), 250)
    assert.equal(initialAge([], NOW, NOW), 0)
  })

  test('an invalid Age counts as 0', () => {
    assert.equal(initialAge([['date', date(NOW)], ['age', '-7200']], NOW, NOW), 0)
  })
})

describe('computeFreshness and the functions using it', () => {
  test('computeFreshness combines lifetime, initial age and response time', () => {
    const headers: HeaderList = [['cache-control', 'max-age=60'], ['date', date(NOW - 5 * SECOND)], ['age', '3']]
    assert.deepEqual(computeFreshness(200, headers, parseCacheControl('max-age=60'), false, NOW - 1000, NOW),
      { lifetimeMs: 60 * SECOND, source: 'max-age', initialAgeMs: 5 * SECOND, responseAt: NOW })
  })

  test('an Age larger than max-age makes a response stale on arrival', () => {
    const f = computeFreshness(200, [['date', date(NOW)], ['age', '7200']], parseCacheControl('max-age=3600'), false, NOW, NOW)
    assert.equal(isFresh(f, NOW), false)
    assert.equal(ttlMs(f, NOW), -3600 * SECOND)
  })

  const f: Freshness = { lifetimeMs: 60 * SECOND, initialAgeMs: 10 * SECOND, responseAt: NOW, source: 'max-age' }

  test('currentAge adds the time resident', () => {
    assert.equal(currentAge(f, NOW), 10 * SECOND)
    assert.equal(currentAge(f, NOW + 5 * SECOND), 15 * SECOND)
  })

  test('currentAge never goes below the initial age when the clock steps back', () => {
    assert.equal(currentAge(f, NOW - 5 * SECOND), 10 * SECOND)
  })

  test('isFresh is lifetime > current age (strictly)', () => {
    assert.equal(isFresh(f, NOW + 49_999), true)
    assert.equal(isFresh(f, NOW + 50_000), false)
    assert.equal(isFresh(f, NOW + 50_001), false)
  })

  test('a lifetime of 0 is never fresh', () => {
    assert.equal(isFresh({ lifetimeMs: 0, initialAgeMs: 0, responseAt: NOW, source: 'none' }, NOW), false)
  })

  test('ttlMs is the remaining freshness, negative when stale', () => {
    assert.equal(ttlMs(f, NOW), 50 * SECOND)
    assert.equal(ttlMs(f, NOW + 70 * SECOND), -20 * SECOND)
  })

  test('ageHeaderValue is whole seconds, rounded down', () => {
    assert.equal(ageHeaderValue(f, NOW), '10')
    assert.equal(ageHeaderValue(f, NOW + 1999), '11')
    assert.equal(ageHeaderValue({ ...f, initialAgeMs: 0 }, NOW + 999), '0')
  })

  test('ageHeaderValue is capped at 2147483648', () => {
    assert.equal(ageHeaderValue({ ...f, initialAgeMs: 2147483648 * SECOND }, NOW + 10 * SECOND), '2147483648')
  })
})
