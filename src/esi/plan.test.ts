/**
 * Unit tests for esi/plan (choose evaluated, vars substituted, include URLs resolved, limits)
 * and esi/assemble (parallel fetches, ordered output, alt / onerror / try-except failure rules,
 * §3.1, §3.4).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { assemble, assembleToBuffer, EsiIncludeError, type FetchFragment } from './assemble.js'
import { decodeDocument, encodeDocument } from './codec.js'
import { parseEsi } from './parser.js'
import { buildPlan, encodeUrlValue, escapeHtml, includesOf, resolveIncludeUrl, type EsiPlan, type PlanItem, type PlanOptions } from './plan.js'
import type { RequestView } from './variables.js'

const alice: RequestView = {
  url: '/products/1?color=red&q=%3Cb%3E',
  headers: [['host', 'shop.test'], ['cookie', 'group=Advanced; name=Alice'], ['accept-language', 'fr, en;q=0.5']],
}
const anonymous: RequestView = { url: '/products/1', headers: [['host', 'shop.test']] }

function showPlan(items: readonly PlanItem[]): string {
  return items.map((i) => {
    if (i.type === 'text') return i.bytes.toString('utf8')
    if (i.type === 'include') return `[#${i.id} ${i.urls.join(' | ')}${i.continueOnError ? ' continue' : ''}${i.isFallback ? ' fallback' : ''}${i.refused ? ` REFUSED(${i.refused})` : ''}]`
    return `[try(${showPlan(i.attempt)})except(${showPlan(i.except)})]`
  }).join('')
}
const plan = (source: string, request: RequestView = alice, options?: PlanOptions): EsiPlan => buildPlan(parseEsi(source), request, options)

describe('buildPlan', () => {
  test('choose takes the first true when, else otherwise (§3.3)', () => {
    const page = "<esi:choose><esi:when test=\"$(HTTP_COOKIE{group})=='Advanced'\">A</esi:when><esi:when test=\"1==1\">B</esi:when><esi:otherwise>C</esi:otherwise></esi:choose>"
    assert.equal(showPlan(plan(page).items), 'A')
    assert.equal(showPlan(plan(page, anonymous).items), 'B')
    assert.equal(showPlan(plan(page.replace('1==1', '1==2'), anonymous).items), 'C')
    assert.equal(showPlan(plan('<esi:choose><esi:when test="1==2">x</esi:when></esi:choose>').items), '')
  })

  test('a bad expression is false, with a warning per request', () => {
    const p = plan('<esi:choose><esi:when test="(1 & 4)">x</esi:when><esi:otherwise>y</esi:otherwise></esi:choose>')
    assert.equal(showPlan(p.items), 'y')
    assert.deepEqual(p.warnings.map((w) => w.code), ['bad-expression'])
  })

  test('vars substitute values, HTML-escaped by default; text merges into one chunk', () => {
    const p = plan("<p><esi:vars>Hello, $(HTTP_COOKIE{name}|'guest') [$(QUERY_STRING{q})] $(HTTP_ACCEPT_LANGUAGE{fr})</esi:vars></p>")
    assert.equal(showPlan(p.items), '<p>Hello, Alice [&lt;b&gt;] true</p>')
    assert.equal(p.items.length, 1)
    assert.equal(showPlan(plan("<esi:vars>$(HTTP_COOKIE{name}|'guest')</esi:vars>", anonymous).items), 'guest')
    assert.equal(showPlan(plan('<esi:vars>$(QUERY_STRING{q})</esi:vars>', alice, { escapeVars: 'none' }).items), '<b>')
  })

  test('a value holding ESI markup stays text: it is never parsed again', () => {
    const evil: RequestView = { url: '/', headers: [['cookie', 'name=<esi:include src="/admin"/>']] }
    const p = plan('<esi:vars>$(HTTP_COOKIE{name})</esi:vars>', evil, { escapeVars: 'none' })
    assert.deepEqual(p.includes, [])
    assert.equal(showPlan(p.items), '<esi:include src="/admin"/>')
  })

  test('include URLs: variables percent-encoded, relative resolved against the template, fragment dropped', () => {
    const evil: RequestView = { url: '/shop/cart?x=1', headers: [['cookie', 'id=a&admin=1 #x\r\nX-Evil: 1'], ['host', 'shop.test:8080']] }
    const p = plan('<esi:include src="/user?id=$(HTTP_COOKIE{id})"/><esi:include src="frag.html#top"/><esi:include src="http://$(HTTP_HOST)/h" alt="../alt"/>', evil)
    assert.deepEqual(p.includes.map((i) => i.urls), [
      ['/user?id=a%26admin%3D1%20%23x%0D%0AX-Evil:%201'],
      ['/shop/frag.html'],
      ['http://shop.test:8080/h', '/alt'],
    ])
  })

  test('templateUrl overrides the base; invalid and non-http URLs fail with a warning', () => {
    assert.deepEqual(plan('<esi:include src="x"/>', alice, { templateUrl: '/frags/a/b' }).includes[0]!.urls, ['/frags/a/x'])
    const p = plan('<esi:include src="javascript:alert(1)" alt="http://[bad"/><esi:include src="ftp://x/" alt="/ok"/>')
    assert.deepEqual(p.includes.map((i) => [i.urls, i.refused]), [[[], 'no valid URL'], [['/ok'], undefined]])
    assert.deepEqual(p.warnings.map((w) => w.code), ['bad-include-url', 'bad-include-url', 'bad-include-url'])
  })

  test('try keeps its structure; except includes are fallbacks; ids follow document order', () => {
    const p = plan('<esi:include src="/a"/><esi:try><esi:attempt><esi:include src="/b" onerror="continue"/></esi:attempt><esi:except><esi:include src="/c"/>x</esi:except></esi:try>')
    assert.equal(showPlan(p.items), '[#0 /a][try([#1 /b continue])except([#2 /c fallback]x)]')
    assert.deepEqual(includesOf(p.items), p.includes)
    assert.deepEqual(p.includes.map((i) => i.id), [0, 1, 2])
  })

  test('an untaken branch contributes no include', () => {
    const p = plan('<esi:choose><esi:when test="1==2"><esi:include src="/no"/></esi:when><esi:otherwise><esi:include src="/yes"/></esi:otherwise></esi:choose>')
    assert.deepEqual(p.includes.map((i) => i.urls[0]), ['/yes'])
  })

  test('limits: the parser\'s over-limit includes and the plan\'s maxIncludes are refused', () => {
    const doc = parseEsi('<esi:include src="/1"/><esi:include src="/2"/><esi:include src="/3"/>', { maxIncludes: 2 })
    assert.match(buildPlan(doc, alice).includes[2]!.refused!, /document's include limit/)
    const p = buildPlan(parseEsi('<esi:include src="/1"/><esi:include src="/2"/><esi:include src="/3"/>'), alice, { maxIncludes: 1 })
    assert.deepEqual(p.includes.map((i) => i.refused === undefined), [true, false, false])
    assert.deepEqual(p.warnings.map((w) => w.code), ['too-many-includes'])
  })

  test('a stored (encoded, decoded) document plans the same', () => {
    const source = "<esi:vars>$(HTTP_COOKIE{name})</esi:vars><esi:try><esi:attempt><esi:include src=\"/a\"/></esi:attempt><esi:except>e</esi:except></esi:try>"
    const doc = parseEsi(source)
    assert.equal(showPlan(buildPlan(decodeDocument(encodeDocument(doc))!, alice).items), showPlan(buildPlan(doc, alice).items))
  })

  test('helpers', () => {
    assert.equal(encodeUrlValue('a b/c:d@e&f=g?h#i%\u00e9\ud800'), 'a%20b/c:d@e%26f%3Dg%3Fh%23i%25%C3%A9%EF%BF%BD')
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
    assert.equal(resolveIncludeUrl('//other.test/x', '/a'), 'http://other.test/x')
    assert.equal(resolveIncludeUrl('/\\other.test/x', '/a'), 'http://other.test/x', 'a backslash path leaves the origin and is then absolute, not a local path')
    assert.equal(resolveIncludeUrl('?q=1', '/a/b?z'), '/a/b?q=1')
  })
})

describe('assemble', () => {
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

  function fragments(bodies: Record<string, string | undefined>, delays: Record<string, number> = {}) {
    const calls: string[] = []
    const fetchFragment: FetchFragment = async (url) => {
      calls.push(url)
      await wait(delays[url] ?? 1)
      const body = bodies[url]
      if (body === 'THROW') throw new Error('connection reset')
      return body === undefined ? undefined : Buffer.from(body)
    }
    return { calls, fetchFragment }
  }

  test('all includes start at once and the output keeps document order', async () => {
    const p = plan('<esi:include src="/1"/>-<esi:include src="/2"/>-<esi:include src="/3"/>')
    const { calls, fetchFragment } = fragments({ '/1': 'one', '/2': 'two', '/3': 'three' }, { '/1': 60, '/2': 30, '/3': 5 })
    const iterator = assemble(p, fetchFragment)
    const first = iterator.next()
    await wait(0)
    assert.deepEqual(calls, ['/1', '/2', '/3'], 'every fetch started before the first finished')
    const parts = [(await first).value!.toString()]
    for await (const b of iterator) parts.push(b.toString())
    assert.deepEqual(parts, ['one', '-', 'two', '-', 'three'])
  })

  test('ten 50 ms includes take about 50 ms, not 500', async () => {
    const source = Array.from({ length: 10 }, (_, i) => `<esi:include src="/f${i}"/>`).join('')
    const bodies = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`/f${i}`, `${i}`]))
    const delays = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`/f${i}`, 50]))
    const started = performance.now()
    const out = await assembleToBuffer(plan(source), fragments(bodies, delays).fetchFragment)
    const elapsed = performance.now() - started
    assert.equal(out.toString(), '0123456789')
    assert.ok(elapsed < 250, `took ${elapsed} ms`)
  })

  test('alt is tried when src fails; onerror="continue" drops a failed include (§3.1)', async () => {
    const p = plan('<esi:include src="/down" alt="/backup"/>|<esi:include src="/down" alt="/gone" onerror="continue"/>|')
    const { calls, fetchFragment } = fragments({ '/backup': 'B', '/gone': 'THROW' })
    assert.equal((await assembleToBuffer(p, fetchFragment)).toString(), 'B||')
    assert.deepEqual(calls.sort(), ['/backup', '/down', '/down', '/gone'])
  })

  test('a failure inside attempt selects except; the attempt output is discarded (§3.4)', async () => {
    const p = plan('a<esi:try><esi:attempt>b<esi:include src="/ok"/><esi:include src="/bad"/></esi:attempt><esi:except>c<esi:include src="/fb"/></esi:except></esi:try>d')
    const { calls, fetchFragment } = fragments({ '/ok': 'OK', '/fb': 'FB' })
    assert.equal((await assembleToBuffer(p, fetchFragment)).toString(), 'acFBd')
    assert.deepEqual(calls, ['/ok', '/bad', '/fb'], 'the except include is fetched only once the attempt failed')
  })

  test('a successful attempt never fetches the except includes', async () => {
    const p = plan('<esi:try><esi:attempt><esi:include src="/ok"/></esi:attempt><esi:except><esi:include src="/fb"/></esi:except></esi:try>')
    const { calls, fetchFragment } = fragments({ '/ok': 'OK', '/fb': 'FB' })
    assert.equal((await assembleToBuffer(p, fetchFragment)).toString(), 'OK')
    assert.deepEqual(calls, ['/ok'])
  })

  test('a nested try catches its own failure; the outer attempt still succeeds', async () => {
    const p = plan('<esi:try><esi:attempt>1<esi:try><esi:attempt><esi:include src="/bad"/></esi:attempt><esi:except>2</esi:except></esi:try>3</esi:attempt><esi:except>X</esi:except></esi:try>')
    assert.equal((await assembleToBuffer(p, fragments({}).fetchFragment)).toString(), '123')
  })

  test('a failure outside any try throws EsiIncludeError after the prefix; refused includes are not fetched', async () => {
    const p = buildPlan(parseEsi('a<esi:include src="/1"/><esi:include src="/2"/>b', { maxIncludes: 1 }), alice)
    const { calls, fetchFragment } = fragments({ '/1': 'one', '/2': 'two' })
    const out: string[] = []
    await assert.rejects(async () => { for await (const b of assemble(p, fetchFragment)) out.push(b.toString()) }, (error: unknown) => {
      assert.ok(error instanceof EsiIncludeError)
      assert.equal(error.slot.id, 1)
      assert.match(error.message, /include limit/)
      assert.equal(error.code, 'ERR_ESI_INCLUDE_FAILED')
      assert.equal(error.statusCode, 502)
      return true
    })
    assert.deepEqual(out, ['a', 'one'])
    assert.deepEqual(calls, ['/1'])
  })
})
