/**
 * c002: freshness (RFC 9111 §4.2): the freshness lifetime (§4.2.1: s-maxage over max-age
 * over Expires − Date, in one field line or several), invalid Expires meaning "already
 * expired" (§5.3), the age calculation (§4.2.3) counting the origin's Age (§5.1), the Age
 * sent with stored responses growing over time (§5.1), and Date not being rewritten on
 * hits (RFC 9110 §6.6.1: Date is when the origin generated the message).
 */
import assert from 'node:assert/strict'
import type http from 'node:http'
import { describe, test } from 'node:test'
import { sleep } from '../helpers/origin.js'
import { cacheStatus, isHit } from '../helpers/proxy.js'
import { PAST_ONE_SECOND_MS, httpDate, serveNumbered, type ServedHeaders } from '../helpers/rfc-scenario.js'
import { useOriginAndProxy } from '../helpers/scenario-setup.js'

const env = useOriginAndProxy()
const { get } = env

/** A handler whose headers may be computed per request; the body names the request number. */
const serve = (path: string, headers: ServedHeaders) => serveNumbered(env.origin, path, headers)

// the waits overlap: these tests use distinct paths and run at the same time
describe('s-maxage over max-age (§4.2.1, §5.2.2.10)', { concurrency: true }, () => {
  const cases: Array<[string, string | string[], 'fresh' | 'stale']> = [
    ['max-age=1, s-maxage=60 in one line', 'max-age=1, s-maxage=60', 'fresh'],
    ['s-maxage=60, max-age=1 in one line', 's-maxage=60, max-age=1', 'fresh'],
    ['max-age=1 and s-maxage=60 on separate lines', ['max-age=1', 's-maxage=60'], 'fresh'],
    ['s-maxage=1, max-age=60 in one line', 's-maxage=1, max-age=60', 'stale'],
    ['max-age=60, s-maxage=1 in one line', 'max-age=60, s-maxage=1', 'stale'],
    ['s-maxage=1 and max-age=60 on separate lines', ['max-age=60', 's-maxage=1'], 'stale'],
  ]
  cases.forEach(([name, cc, expected], i) => {
    test(`${name}: ${expected} after 1 s`, async () => {
      const path = `/c002/s-maxage/${i}`
      // an ETag keeps the response stored even when it is (nearly) stale on arrival: node's
      // Date has whole seconds, so a 1 s lifetime may be mostly used up by the apparent age
      serve(path, { 'cache-control': cc, etag: `"${i}"` } as http.OutgoingHttpHeaders)
      const first = await get(path)
      assert.match(cacheStatus(first), /; stored/)
      await sleep(PAST_ONE_SECOND_MS)
      const second = await get(path)
      if (expected === 'fresh') {
        assert.ok(isHit(second), cacheStatus(second))
        assert.equal(second.body, `${path} #1`)
        assert.equal(env.origin.count(path), 1)
      } else {
        assert.ok(!isHit(second), cacheStatus(second))
        assert.equal(second.body, `${path} #2`)
        assert.equal(env.origin.count(path), 2)
        assert.equal(env.origin.received.filter((r) => r.url === path)[1]!.headers['if-none-match'], `"${i}"`)
      }
    })
  })
})

describe('max-age, Expires and Date (§4.2.1, §5.3)', () => {
  test('max-age beats an Expires in the past', async () => {
    const path = '/c002/max-age-over-expires/past'
    serve(path, () => ({ 'cache-control': 'max-age=60', expires: httpDate(-3600) }))
    await get(path)
    const second = await get(path)
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(env.origin.count(path), 1)
  })

  test('max-age=0 beats an Expires in the future', async () => {
    const path = '/c002/max-age-over-expires/future'
    serve(path, () => ({ 'cache-control': 'max-age=0', expires: httpDate(3600) }))
    await get(path)
    const second = await get(path)
    assert.ok(!isHit(second), cacheStatus(second))
    assert.equal(second.body, `${path} #2`)
    assert.equal(env.origin.count(path), 2)
  })

  test('max-age beats an invalid Expires', async () => {
    const path = '/c002/max-age-over-expires/invalid'
    serve(path, { 'cache-control': 'max-age=60', expires: '0' })
    await get(path)
    const second = await get(path)
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(env.origin.count(path), 1)
  })

  test('max-age in the quoted-string form is accepted (§5.2: recipients accept both forms)', async () => {
    const path = '/c002/max-age/quoted'
    serve(path, { 'cache-control': 'max-age="60"' })
    await get(path)
    const second = await get(path)
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(env.origin.count(path), 1)
  })

  // with Last-Modified, ignoring the invalid max-age would give a (fresh) heuristic lifetime
  for (const cc of ['max-age=abc', 'max-age=-1', 'max-age=1.5', 'max-age=']) {
    test(`an invalid "${cc}" is taken as stale, not as absent (§4.2.1)`, async () => {
      const path = `/c002/max-age/invalid/${encodeURIComponent(cc)}`
      serve(path, () => ({ 'cache-control': cc, 'last-modified': httpDate(-86400 * 30) }))
      await get(path)
      const second = await get(path)
      assert.ok(!isHit(second), cacheStatus(second))
      assert.equal(second.body, `${path} #2`)
      assert.equal(env.origin.count(path), 2)
    })
  }

  test('without max-age, Expires − Date is the lifetime: Expires = Date + 60 s is fresh', async () => {
    const path = '/c002/expires/date-plus-60'
    serve(path, () => ({ date: httpDate(0), expires: httpDate(60) }))
    await get(path)
    const second = await get(path)
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(second.body, `${path} #1`)
    assert.match(cacheStatus(second), /ttl=(5\d|60)(;|$)/)
    assert.equal(env.origin.count(path), 1)
  })

  test('Expires is measured against Date, not the cache clock: an origin clock ahead by 2 h, Expires = Date + 60 s is fresh', async () => {
    const path = '/c002/expires/origin-clock-ahead'
    serve(path, () => ({ date: httpDate(7200), expires: httpDate(7260) }))
    await get(path)
    const second = await get(path)
    assert.ok(isHit(second), cacheStatus(second))
    assert.ok(Number(/ttl=(-?\d+)/.exec(cacheStatus(second))?.[1]) <= 60, cacheStatus(second))
    assert.equal(env.origin.count(path), 1)
  })

  test('Expires earlier than Date means stale even when Expires is still in the cache\'s future', async () => {
    const path = '/c002/expires/before-date'
    serve(path, () => ({ date: httpDate(7200), expires: httpDate(3600), 'last-modified': httpDate(-86400 * 30) }))
    await get(path)
    const second = await get(path)
    assert.ok(!isHit(second), cacheStatus(second))
    assert.equal(second.body, `${path} #2`)
    assert.equal(env.origin.count(path), 2)
  })

  test('an Expires in the past means stale', async () => {
    const path = '/c002/expires/past'
    serve(path, () => ({ expires: httpDate(-60) }))
    await get(path)
    const second = await get(path)
    assert.equal(second.body, `${path} #2`)
    assert.equal(env.origin.count(path), 2)
  })

  // Last-Modified is present so that, if the invalid Expires were ignored, a heuristic
  // lifetime (10 % of 30 days, capped at a day) would make the response fresh
  for (const expires of ['0', '-1', 'Thu, 01 Dec 94 16:00:00 GMT', 'soon', '']) {
    test(`an invalid Expires ${JSON.stringify(expires)} means already expired (§5.3)`, async () => {
      const path = `/c002/expires/invalid/${encodeURIComponent(expires) || 'empty'}`
      serve(path, () => ({ expires, 'last-modified': httpDate(-86400 * 30) }))
      await get(path)
      const second = await get(path)
      assert.ok(!isHit(second), cacheStatus(second))
      assert.equal(second.body, `${path} #2`)
      assert.equal(env.origin.count(path), 2)
    })
  }

  test('an RFC 850 date with a two-digit year is read in the right century (94 → 1994, expired)', async () => {
    const path = '/c002/expires/rfc850-two-digit-year'
    serve(path, () => ({ expires: 'Thursday, 01-Dec-94 16:00:00 GMT', 'last-modified': httpDate(-86400 * 30) }))
    await get(path)
    const second = await get(path)
    assert.ok(!isHit(second), cacheStatus(second))
    assert.equal(env.origin.count(path), 2)
  })

  test('Expires in the obsolete RFC 850 form with a future date is honoured', async () => {
    const path = '/c002/expires/rfc850-future'
    const future = new Date(Date.now() + 3600_000)
    const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
    const two = (n: number) => String(n).padStart(2, '0')
    const rfc850 = `${days[future.getUTCDay()]}, ${two(future.getUTCDate())}-${months[future.getUTCMonth()]}-${two(future.getUTCFullYear() % 100)} `
      + `${two(future.getUTCHours())}:${two(future.getUTCMinutes())}:${two(future.getUTCSeconds())} GMT`
    serve(path, () => ({ expires: rfc850 }))
    await get(path)
    const second = await get(path)
    assert.ok(isHit(second), `${rfc850}: ${cacheStatus(second)}`)
    assert.equal(env.origin.count(path), 1)
  })
})

describe('age (§4.2.3, §5.1)', () => {
  test('an Age from the origin larger than max-age makes the response stale on arrival', async () => {
    const path = '/c002/age/over-max-age'
    serve(path, { 'cache-control': 'max-age=60', age: '120' })
    await get(path)
    const second = await get(path)
    assert.ok(!isHit(second), cacheStatus(second))
    assert.equal(second.body, `${path} #2`)
    assert.equal(env.origin.count(path), 2)
  })

  test('an Age from the origin larger than max-age, with a validator: stored but revalidated before reuse', async () => {
    const path = '/c002/age/over-max-age-etag'
    serve(path, { 'cache-control': 'max-age=60', age: '120', etag: '"a1"' })
    await get(path)
    const second = await get(path)
    assert.ok(!isHit(second), cacheStatus(second))
    assert.equal(env.origin.count(path), 2)
    assert.equal(env.origin.received.filter((r) => r.url === path)[1]!.headers['if-none-match'], '"a1"')
  })

  test('an Age from the origin counts against the lifetime: Age 50 of max-age 60 leaves about 10 s', async () => {
    const path = '/c002/age/counts'
    serve(path, { 'cache-control': 'max-age=60', age: '50' })
    const first = await get(path)
    assert.ok(Number(first.headers.age) >= 50, String(first.headers.age))
    const second = await get(path)
    assert.ok(isHit(second), cacheStatus(second))
    assert.ok(Number(second.headers.age) >= 50, String(second.headers.age))
    const ttl = Number(/ttl=(-?\d+)/.exec(cacheStatus(second))?.[1])
    assert.ok(ttl <= 10 && ttl >= 8, cacheStatus(second))
  })
})

describe('Age and Date on hits over time', { concurrency: true }, () => {
  test('the Age sent on hits grows with the time spent in the cache', async () => {
    const path = '/c002/age/grows'
    serve(path, { 'cache-control': 'max-age=60', age: '10' })
    await get(path)
    const early = await get(path)
    assert.ok(isHit(early), cacheStatus(early))
    const earlyAge = Number(early.headers.age)
    assert.ok(earlyAge >= 10 && earlyAge <= 11, String(early.headers.age))
    await sleep(PAST_ONE_SECOND_MS)
    const late = await get(path)
    assert.ok(isHit(late), cacheStatus(late))
    assert.ok(Number(late.headers.age) >= earlyAge + 1, `${early.headers.age} then ${late.headers.age}`)
    assert.equal(env.origin.count(path), 1)
  })

  test('a hit carries the origin\'s Date unchanged, however long after', async () => {
    const path = '/c002/date/kept'
    const originDate = httpDate(-5)
    serve(path, { 'cache-control': 'max-age=60', date: originDate })
    const first = await get(path)
    assert.equal(first.headers.date, originDate)
    await sleep(PAST_ONE_SECOND_MS)
    const second = await get(path)
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(second.headers.date, originDate)
    assert.ok(Number(second.headers.age) >= 6, `Age ${second.headers.age} must include the 5 s apparent age and the 1 s wait`)
    assert.equal(env.origin.count(path), 1)
  })

  test('a response the origin sent without Date is stored with the Date of its receipt, and hits repeat it (RFC 9110 §6.6.1)', async () => {
    const path = '/c002/date/none-from-origin'
    env.origin.on(path, (_req, res) => {
      res.sendDate = false
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end('no date')
    })
    const first = await get(path)
    const receivedBy = Date.now()
    assert.ok(first.headers.date, 'a Date is added when the origin sent none')
    await sleep(PAST_ONE_SECOND_MS)
    const second = await get(path)
    assert.ok(isHit(second), cacheStatus(second))
    // the Date of a stored response says when it was generated (received), not when it was
    // reused: it cannot be later than the moment the first response had arrived
    assert.ok(Date.parse(String(second.headers.date)) <= receivedBy,
      `hit Date ${second.headers.date} is after the response was received (first Date ${first.headers.date})`)
    assert.equal(env.origin.count(path), 1)
  })
})
