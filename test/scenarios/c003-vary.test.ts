/**
 * c003: secondary cache keys (RFC 9111 §4.1): a stored response with Vary is reused only
 * for a request whose selecting fields match those of the request that caused it to be
 * stored (a field absent in both matches; absent in one does not), with one, two or three
 * fields named; `Vary: *` (alone or in a list) never matches; several variants of one URI
 * are kept side by side; field values are combined across repeated lines (RFC 9110 §5.3)
 * before being compared. Also the Cache-Status `fwd=vary-miss` value (RFC 9211 §2.2).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { cacheStatus, isHit } from '../helpers/proxy.js'
import { useOriginAndProxy } from '../helpers/scenario-setup.js'

const env = useOriginAndProxy()
const { get } = env

/** The body names the request number and echoes the request fields listed in `echo`. */
function serve(path: string, vary: string | string[], echo: string[] = []): void {
  let n = 0
  env.origin.on(path, (req, res) => {
    n++
    res.setHeader('cache-control', 'max-age=60')
    res.setHeader('vary', vary)
    res.setHeader('content-type', 'text/plain')
    res.writeHead(200)
    res.end([`#${n}`, ...echo.map((name) => `${name}=${String(req.headers[name] ?? '')}`)].join(' '))
  })
}

describe('one selecting field', () => {
  test('the same value matches: hit', async () => {
    const path = '/c003/one/match'
    serve(path, 'Accept-Language', ['accept-language'])
    const first = await get(path, { 'accept-language': 'en' })
    assert.match(cacheStatus(first), /; stored/)
    const second = await get(path, { 'accept-language': 'en' })
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(second.body, '#1 accept-language=en')
    assert.equal(second.headers.vary, 'Accept-Language')
    assert.equal(env.origin.count(path), 1)
  })

  test('a different value does not match: the origin is asked, with the new value', async () => {
    const path = '/c003/one/no-match'
    serve(path, 'Accept-Language', ['accept-language'])
    await get(path, { 'accept-language': 'en' })
    const second = await get(path, { 'accept-language': 'fr' })
    assert.ok(!isHit(second), cacheStatus(second))
    assert.equal(second.body, '#2 accept-language=fr')
    assert.equal(env.origin.count(path), 2)
  })

  test('the field present when stored and omitted now does not match', async () => {
    const path = '/c003/one/omitted-now'
    serve(path, 'Accept-Language', ['accept-language'])
    await get(path, { 'accept-language': 'en' })
    const second = await get(path)
    assert.ok(!isHit(second), cacheStatus(second))
    assert.equal(second.body, '#2 accept-language=')
    assert.equal(env.origin.count(path), 2)
  })

  test('the field omitted when stored and present now does not match; omitted in both matches', async () => {
    const path = '/c003/one/omitted-then'
    serve(path, 'X-Flavour', ['x-flavour'])
    await get(path)
    const same = await get(path)
    assert.ok(isHit(same), cacheStatus(same))
    assert.equal(same.body, '#1 x-flavour=')
    const other = await get(path, { 'x-flavour': 'mint' })
    assert.ok(!isHit(other), cacheStatus(other))
    assert.equal(other.body, '#2 x-flavour=mint')
    assert.equal(env.origin.count(path), 2)
  })

  test('the field name in Vary is matched without regard to case', async () => {
    const path = '/c003/one/name-case'
    serve(path, 'x-FLAVOUR', ['x-flavour'])
    await get(path, { 'X-Flavour': 'lime' })
    const second = await get(path, { 'x-flavour': 'lime' })
    assert.ok(isHit(second), cacheStatus(second))
    const third = await get(path, { 'x-flavour': 'LIME' })
    assert.ok(!isHit(third), `field values are compared as sent: ${cacheStatus(third)}`)
    assert.equal(env.origin.count(path), 2)
  })
})

describe('two and three selecting fields', () => {
  test('Vary with two fields: reused only when both match', async () => {
    const path = '/c003/two'
    serve(path, 'Accept-Language, X-Flavour', ['accept-language', 'x-flavour'])
    await get(path, { 'accept-language': 'en', 'x-flavour': 'mint' })
    const both = await get(path, { 'accept-language': 'en', 'x-flavour': 'mint' })
    assert.ok(isHit(both), cacheStatus(both))
    assert.equal(both.body, '#1 accept-language=en x-flavour=mint')
    const firstDiffers = await get(path, { 'accept-language': 'de', 'x-flavour': 'mint' })
    assert.equal(firstDiffers.body, '#2 accept-language=de x-flavour=mint')
    const secondDiffers = await get(path, { 'accept-language': 'en', 'x-flavour': 'lime' })
    assert.equal(secondDiffers.body, '#3 accept-language=en x-flavour=lime')
    const secondMissing = await get(path, { 'accept-language': 'en' })
    assert.equal(secondMissing.body, '#4 accept-language=en x-flavour=')
    assert.equal(env.origin.count(path), 4)
  })

  test('Vary with three fields on separate lines: reused only when all three match', async () => {
    const path = '/c003/three'
    serve(path, ['X-A', 'X-B', 'X-C'], ['x-a', 'x-b', 'x-c'])
    const abc = { 'x-a': '1', 'x-b': '2', 'x-c': '3' }
    await get(path, abc)
    const same = await get(path, abc)
    assert.ok(isHit(same), cacheStatus(same))
    assert.equal(same.body, '#1 x-a=1 x-b=2 x-c=3')
    const third = await get(path, { ...abc, 'x-c': '4' })
    assert.ok(!isHit(third), cacheStatus(third))
    assert.equal(third.body, '#2 x-a=1 x-b=2 x-c=4')
    assert.equal(env.origin.count(path), 2)
  })

  test('fields the response does not vary on do not matter', async () => {
    const path = '/c003/unlisted'
    serve(path, 'X-A', ['x-a'])
    await get(path, { 'x-a': '1', 'x-b': 'one' })
    const second = await get(path, { 'x-a': '1', 'x-b': 'two' })
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(env.origin.count(path), 1)
  })
})

describe('Vary: *', () => {
  for (const vary of ['*', 'Foo, *', ['Accept-Language', '*']]) {
    test(`Vary: ${JSON.stringify(vary)} is never reused`, async () => {
      const path = `/c003/star/${encodeURIComponent(JSON.stringify(vary))}`
      serve(path, vary)
      const first = await get(path)
      assert.doesNotMatch(cacheStatus(first), /; stored/)
      assert.match(cacheStatus(first), /detail=VARY-STAR/)
      const second = await get(path)
      assert.ok(!isHit(second), cacheStatus(second))
      assert.equal(second.body, '#2')
      assert.match(cacheStatus(second), /detail=HIT-FOR-MISS/)
      assert.equal(env.origin.count(path), 2)
    })
  }
})

describe('variants side by side', () => {
  test('two variants of one URI are both stored and each is served to its own requests', async () => {
    const path = '/c003/variants'
    serve(path, 'Accept-Language', ['accept-language'])
    await get(path, { 'accept-language': 'en' })
    await get(path, { 'accept-language': 'fr' })
    for (let round = 0; round < 2; round++) {
      const en = await get(path, { 'accept-language': 'en' })
      const fr = await get(path, { 'accept-language': 'fr' })
      assert.ok(isHit(en), cacheStatus(en))
      assert.ok(isHit(fr), cacheStatus(fr))
      assert.equal(en.body, '#1 accept-language=en')
      assert.equal(fr.body, '#2 accept-language=fr')
    }
    assert.equal(env.origin.count(path), 2)
  })

  test('a request that matches no stored variant is a vary-miss in Cache-Status (RFC 9211 §2.2)', async () => {
    const path = '/c003/vary-miss'
    serve(path, 'Accept-Language', ['accept-language'])
    const first = await get(path, { 'accept-language': 'en' })
    assert.match(cacheStatus(first), /fwd=uri-miss/)
    const second = await get(path, { 'accept-language': 'fr' })
    assert.equal(second.body, '#2 accept-language=fr')
    assert.match(cacheStatus(second), /fwd=vary-miss/)
  })
})

describe('combining repeated request field lines (RFC 9110 §5.3)', () => {
  test('a value sent on two lines matches the same value sent as one comma-separated line', async () => {
    const path = '/c003/combined/two-lines-first'
    serve(path, 'X-Tags')
    const first = await get(path, { 'x-tags': ['a', 'b'] })
    assert.match(cacheStatus(first), /; stored/)
    const oneLine = await get(path, { 'x-tags': 'a, b' })
    assert.ok(isHit(oneLine), cacheStatus(oneLine))
    const twoLines = await get(path, { 'x-tags': ['a', 'b'] })
    assert.ok(isHit(twoLines), cacheStatus(twoLines))
    assert.equal(env.origin.count(path), 1)
  })

  test('a value sent as one line matches the same value sent on two lines', async () => {
    const path = '/c003/combined/one-line-first'
    serve(path, 'X-Tags')
    await get(path, { 'x-tags': 'a,b' })
    const twoLines = await get(path, { 'x-tags': ['a', 'b'] })
    assert.ok(isHit(twoLines), cacheStatus(twoLines))
    assert.equal(env.origin.count(path), 1)
  })

  test('only the first of two lines, or the lines in another order, does not match', async () => {
    const path = '/c003/combined/partial'
    serve(path, 'X-Tags')
    await get(path, { 'x-tags': ['a', 'b'] })
    const onlyFirst = await get(path, { 'x-tags': 'a' })
    assert.ok(!isHit(onlyFirst), cacheStatus(onlyFirst))
    const reversed = await get(path, { 'x-tags': ['b', 'a'] })
    assert.ok(!isHit(reversed), cacheStatus(reversed))
    assert.equal(env.origin.count(path), 3)
  })
})
