/**
 * e001: ESI delivery. A real Lacquer in front of a scripted origin: activation (Surrogate-Control
 * or a rule, never otherwise), each ESI 1.0 element at delivery (include, alt, onerror, try,
 * choose, vars, remove, comment, <!--esi -->), includes as child requests cached by their own
 * rules (shared, per user, never), credentials scoping, limits (depth, count, timeout, loops),
 * failures (never a truncated page that looks whole, never an error body stored in a page),
 * compression both ways, and a page split across many chunks.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, test } from 'node:test'
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib'
import type { ProxyOptions } from '../../src/index.js'
import { sleep, startOrigin, type OriginHandler, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy } from '../helpers/proxy.js'

const ESI = { 'surrogate-control': 'content="ESI/1.0"' }

function html(body: string, headers: Record<string, string> = {}): OriginHandler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...headers })
    res.end(body)
  }
}

let origin: TestOrigin
const proxies: TestProxy[] = []
async function proxy(extra: Partial<ProxyOptions> = {}): Promise<TestProxy> {
  const p = await startProxy({ origin: origin.url, ...extra })
  proxies.push(p)
  return p
}

before(async () => {
  origin = await startOrigin()
})
after(async () => {
  for (const p of proxies) await p.close()
  await origin.close()
})

let n = 0
/** a fresh path per test, so tests never share stored objects */
const path = (name: string) => `/t${++n}-${name}`

test('include: the fragment is fetched through Lacquer and written in place; Cache-Status says assembled', async () => {
  const p = await proxy()
  const page = path('page'); const frag = path('frag')
  origin.on(page, html(`<p>before</p><esi:include src="${frag}"/><p>after</p>`, { ...ESI, 'cache-control': 'max-age=60', etag: '"v1"', 'last-modified': new Date().toUTCString() }))
  origin.on(frag, html('<b>fragment</b>', { 'cache-control': 'max-age=60' }))
  const first = await request(`${p.url}${page}`)
  assert.equal(first.status, 200)
  assert.equal(first.body, '<p>before</p><b>fragment</b><p>after</p>')
  assert.match(cacheStatus(first), /ESI-ASSEMBLED/)
  assert.equal(first.headers['content-length'], undefined)
  assert.equal(first.headers['transfer-encoding'], 'chunked')
  assert.equal(first.headers.etag, undefined)
  assert.equal(first.headers['last-modified'], undefined)
  assert.equal(first.headers['surrogate-control'], undefined)
  assert.match(String(first.headers.vary), /Accept-Encoding/i)
  const second = await request(`${p.url}${page}`)
  assert.equal(second.body, first.body)
  assert.ok(isHit(second), cacheStatus(second))
  assert.equal(origin.count(page), 1)
  assert.equal(origin.count(frag), 1, 'the fragment was stored by its own headers')
  // the origin was told Lacquer does ESI
  const asked = origin.received.find((r) => r.url === page)!
  assert.equal(asked.headers['surrogate-capability'], 'lacquer="ESI/1.0"')
})

// ── activation ──────────────────────────────────────────────────────────────

test('activation: a page that did not ask is delivered untouched, <esi:…> and all', async () => {
  const p = await proxy()
  const plain = path('plain'); const other = path('other-device'); const mine = path('targeted'); const frag = path('frag')
  const body = `<p>ESI looks like <esi:include src="${frag}"/></p>`
  origin.on(plain, html(body, { 'cache-control': 'max-age=60' }))
  origin.on(other, html(body, { 'surrogate-control': 'content="ESI/1.0";akamai', 'cache-control': 'max-age=60' }))
  origin.on(mine, html(body, { 'surrogate-control': 'max-age=30, content="ESI/1.0";lacquer', 'cache-control': 'max-age=60' }))
  origin.on(frag, html('F'))
  const a = await request(`${p.url}${plain}`)
  assert.equal(a.body, body)
  assert.doesNotMatch(cacheStatus(a), /ESI/)
  const b = await request(`${p.url}${other}`)
  assert.equal(b.body, body, 'a directive targeted at another surrogate is not for Lacquer')
  assert.equal(b.headers['surrogate-control'], 'content="ESI/1.0";akamai')
  const c = await request(`${p.url}${mine}`)
  assert.equal(c.body, '<p>ESI looks like F</p>')
  assert.equal(c.headers['surrogate-control'], undefined)
  assert.equal(origin.count(frag), 1)
})

test('activation: a rule with esi: true processes textual responses only; esi.enabled: false never processes nor advertises', async () => {
  const page = path('rule-page'); const image = path('rule-image'); const frag = path('frag')
  origin.on(page, html(`[<esi:include src="${frag}"/>]`, { 'cache-control': 'max-age=60' }))
  origin.on(image, (_req, res) => { res.writeHead(200, { 'content-type': 'image/png' }); res.end('<esi:include src="/x"/>') })
  origin.on(frag, html('F'))
  const p = await proxy({ rules: [{ match: { path: [page, image] }, esi: true }] })
  assert.equal((await request(`${p.url}${page}`)).body, '[F]')
  assert.equal((await request(`${p.url}${image}`)).body, '<esi:include src="/x"/>')
  const off = await proxy({ esi: { enabled: false } })
  const esiPage = path('off'); origin.on(esiPage, html(`[<esi:include src="${frag}"/>]`, ESI))
  assert.equal((await request(`${off.url}${esiPage}`)).body, `[<esi:include src="${frag}"/>]`)
  assert.equal(origin.received.find((r) => r.url === esiPage)!.headers['surrogate-capability'], undefined)
})

// ── the elements at delivery ────────────────────────────────────────────────

test('elements: alt, onerror="continue", try/attempt/except, choose/when, vars, remove, comment, <!--esi -->', async () => {
  const p = await proxy()
  const page = path('elements'); const ok = path('ok'); const missing = path('missing'); const alt = path('alt')
  origin.on(ok, html('OK'))
  origin.on(alt, html('ALT'))
  origin.on(missing, (_req, res) => { res.writeHead(404, { 'content-type': 'text/html' }); res.end('<h1>404 secret error body</h1>') })
  origin.on(page, html([
    `1<esi:include src="${missing}" alt="${alt}"/>`,
    `2<esi:include src="${missing}" onerror="continue"/>`,
    `3<esi:try><esi:attempt>a<esi:include src="${missing}"/>b</esi:attempt><esi:except>E</esi:except></esi:try>`,
    `4<esi:try><esi:attempt><esi:include src="${ok}"/></esi:attempt><esi:except>E</esi:except></esi:try>`,
    '5<esi:choose><esi:when test="$(HTTP_COOKIE{theme})==\'dark\'">dark</esi:when><esi:otherwise>light</esi:otherwise></esi:choose>',
    '6<esi:vars>q=$(QUERY_STRING{q}) lang=$(HTTP_ACCEPT_LANGUAGE{fr}) none=$(HTTP_REFERER|\'-\')</esi:vars>',
    '7<esi:remove>removed</esi:remove><esi:comment text="gone"/>',
    `8<!--esi <esi:include src="${ok}"/> -->`,
    '9<!-- <esi:include src="/never"/> -->',
  ].join('|'), { ...ESI, 'cache-control': 'max-age=60' }))
  const res = await request(`${p.url}${page}?q=%3Cb%3E`, { headers: { cookie: 'theme=dark', 'accept-language': 'fr-CH, en;q=0.5' } })
  assert.equal(res.status, 200)
  assert.equal(res.body, [
    '1ALT', '2', '3E', '4OK', '5dark', '6q=&lt;b&gt; lang=true none=-', '7', '8 OK ', '9<!-- <esi:include src="/never"/> -->',
  ].join('|'))
  assert.doesNotMatch(res.body, /secret error body/)
  const light = await request(`${p.url}${page}`)
  assert.match(light.body, /5light/)
  assert.match(light.body, /6q= lang=false/)
  const again = await request(`${p.url}${page}`)
  assert.match(again.body, /5light/)
  assert.ok(isHit(again), 'the page was parsed once and stored: the next request replays it with its own variables')
  assert.equal(origin.count(page), 1)
})

// ── fragments cached by their own rules ─────────────────────────────────────

test('per-fragment caching: a shared fragment is stored once, a per-user one per session, a live one never', async () => {
  const page = path('shop'); const shared = path('product'); const header = path('header'); const stock = path('stock')
  let stockCount = 10
  origin.on(page, html(`<esi:include src="${shared}"/>|<esi:include src="${header}"/>|<esi:include src="${stock}"/>`, { ...ESI, 'cache-control': 'max-age=60' }))
  origin.on(shared, html('product', { 'cache-control': 'max-age=60' }))
  origin.on(header, (req, res) => {
    const user = /session=(\w+)/.exec(req.headers.cookie ?? '')?.[1] ?? 'guest'
    html(`hi ${user}`, { 'cache-control': 'private, max-age=60' })(req, res, '')
  })
  origin.on(stock, html('', {})) // replaced below
  origin.on(stock, (req, res) => html(`stock ${stockCount--}`, { 'cache-control': 'no-store' })(req, res, ''))
  const p = await proxy({
    rules: [
      { name: 'page', match: { path: page }, cache: true },
      { name: 'product', match: { path: shared }, cache: true },
      { name: 'header', match: { path: header }, perUser: { cookie: 'session' } },
    ],
  })
  const alice1 = await request(`${p.url}${page}`, { headers: { cookie: 'session=alice' } })
  const bob1 = await request(`${p.url}${page}`, { headers: { cookie: 'session=bob' } })
  const alice2 = await request(`${p.url}${page}`, { headers: { cookie: 'session=alice' } })
  const guest = await request(`${p.url}${page}`)
  assert.equal(alice1.body, 'product|hi alice|stock 10')
  assert.equal(bob1.body, 'product|hi bob|stock 9')
  assert.equal(alice2.body, 'product|hi alice|stock 8')
  assert.equal(guest.body, 'product|hi guest|stock 7')
  assert.equal(origin.count(page), 1, 'the page is shared: cookies removed from its own request by the cache rule')
  assert.equal(origin.count(shared), 1, 'the shared fragment: stored once')
  assert.equal(origin.count(header), 3, 'the per-user fragment: once per user (alice, bob, guest)')
  assert.equal(origin.count(stock), 4, 'the live fragment: never stored')
  assert.equal(alice2.headers['cache-control'], 'private, no-cache', 'a page assembled with a user\'s cookie is not for shared caches downstream')
  assert.equal(guest.headers['cache-control'], 'private, no-cache', 'an assembled page is never for shared caches downstream, with or without credentials')
  // the admin port's report: each fragment's own Cache-Status
  const report = JSON.parse((await request(`${p.adminUrl}/esi`)).body)
  const [ofGuest, ofAlice2] = report.pages
  assert.equal(ofAlice2.fragments.length, 3)
  assert.match(ofAlice2.fragments[0].cacheStatus, /; hit/)
  assert.match(ofAlice2.fragments[1].cacheStatus, /; hit/, 'alice\'s own header, stored for her')
  assert.match(ofAlice2.fragments[2].cacheStatus, /fwd=bypass/, 'the live fragment with a session cookie: passed')
  assert.match(ofGuest.fragments[2].cacheStatus, /RESPONSE-NO-STORE/, 'and without one: not stored')
  assert.match(ofGuest.fragments[1].cacheStatus, /fwd=uri-miss.*RESPONSE-PRIVATE/, 'a guest\'s private header is not stored')
})

test('credentials: Cookie and Authorization go to the page\'s host and esi.hosts; any other host is refused', async () => {
  const page = path('creds'); const frag = path('who')
  origin.on(frag, (req, res) => html(`[${req.headers.host}:${req.headers.cookie ?? '-'}:${req.headers.authorization ?? '-'}]`, { 'cache-control': 'no-store' })(req, res, ''))
  const p = await proxy({ esi: { hosts: ['assets.shop.test'] } })
  const self = new URL(p.url).host
  origin.on(page, html([
    `<esi:include src="${frag}"/>`,
    `<esi:include src="http://${self}${frag}"/>`,
    `<esi:include src="http://assets.shop.test${frag}"/>`,
    `<esi:include src="http://evil.test${frag}" alt="${frag}?alt"/>`,
    `<esi:include src="http://evil.test${frag}" onerror="continue"/>`,
  ].join(''), { ...ESI, 'cache-control': 'no-store' }))
  const res = await request(`${p.url}${page}`, { headers: { cookie: 'session=s1', authorization: 'Bearer t1' } })
  assert.equal(res.status, 200)
  assert.equal(res.body, `[${self}:session=s1:Bearer t1]`.repeat(2) + '[assets.shop.test:session=s1:Bearer t1]' + `[${self}:session=s1:Bearer t1]`)
  assert.ok(!origin.received.some((r) => r.headers.host === 'evil.test'), 'nothing was sent for evil.test')
})

// ── limits ──────────────────────────────────────────────────────────────────

test('limits: depth (nested ESI fragments), includes per request, per-include timeout, loops', async () => {
  const p = await proxy({ esi: { maxDepth: 2, maxIncludes: 4, includeTimeout: '300ms' } })
  // depth: page → d1 → d2 → d3 (too deep)
  const d = [path('d0'), path('d1'), path('d2'), path('d3')]
  for (let i = 0; i < 3; i++) origin.on(d[i]!, html(`(${i}<esi:include src="${d[i + 1]}" onerror="continue"/>)`, { ...ESI, 'cache-control': 'max-age=60' }))
  origin.on(d[3]!, html('(3)'))
  assert.equal((await request(`${p.url}${d[0]}`)).body, '(0(1(2)))')
  assert.equal(origin.count(d[3]!), 0, 'the include beyond esi.maxDepth was not fetched')
  // count: five includes, four allowed
  const many = path('many'); const leaf = path('leaf')
  origin.on(leaf, html('x', { 'cache-control': 'max-age=60' }))
  origin.on(many, html(Array.from({ length: 5 }, (_, i) => `<esi:include src="${leaf}?${i}" onerror="continue"/>`).join(''), ESI))
  assert.equal((await request(`${p.url}${many}`)).body, 'xxxx')
  // timeout: the slow fragment is given up, its alt used
  const slowPage = path('slow-page'); const slow = path('slow'); const quick = path('quick')
  origin.on(slow, async (req, res) => { await sleep(1500); html('slow')(req, res, '') })
  origin.on(quick, html('quick'))
  origin.on(slowPage, html(`<esi:include src="${slow}" alt="${quick}"/>`, ESI))
  const timed = await request(`${p.url}${slowPage}`)
  assert.equal(timed.body, 'quick')
  // loops: a fragment including itself, and one including its parent
  const self = path('self'); const parent = path('parent'); const child = path('child')
  origin.on(self, html(`[self<esi:include src="${self}" onerror="continue"/>]`, { ...ESI, 'cache-control': 'max-age=60' }))
  origin.on(parent, html(`[parent<esi:include src="${child}"/>]`, { ...ESI, 'cache-control': 'max-age=60' }))
  origin.on(child, html(`[child<esi:try><esi:attempt><esi:include src="${parent}"/></esi:attempt><esi:except>loop</esi:except></esi:try>]`, { ...ESI, 'cache-control': 'max-age=60' }))
  assert.equal((await request(`${p.url}${self}`)).body, '[self]')
  assert.equal((await request(`${p.url}${parent}`)).body, '[parent[childloop]]')
  assert.equal(origin.count(parent), 1, 'the parent was not fetched again as its own fragment')
  const report = JSON.parse((await request(`${p.adminUrl}/esi`)).body)
  assert.match(report.pages[0].fragments[1].reason, /include loop/)
})

// ── failures ────────────────────────────────────────────────────────────────

test('failures: outside any try, a failed include is a 502 before the head, an aborted response after it; never stored in the page', async () => {
  const p = await proxy()
  const early = path('fails-first'); const late = path('fails-later'); const broken = path('broken')
  let isBroken = true
  origin.on(broken, (req, res) => {
    if (!isBroken) return html('fixed', { 'cache-control': 'max-age=60' })(req, res, '')
    res.writeHead(500, { 'content-type': 'text/html', 'cache-control': 'max-age=60' })
    res.end('<h1>stack trace with secrets</h1>')
  })
  origin.on(early, html(`<esi:include src="${broken}"/><p>rest</p>`, { ...ESI, 'cache-control': 'max-age=60' }))
  origin.on(late, html(`<p>${'text before the include '.repeat(10)}</p><esi:include src="${broken}"/><p>rest</p>`, { ...ESI, 'cache-control': 'max-age=60' }))
  const a = await request(`${p.url}${early}`)
  assert.equal(a.status, 502)
  assert.equal(a.headers['lacquer-error'], 'ERR_ESI_INCLUDE_FAILED')
  assert.doesNotMatch(a.body, /secrets/)
  // the head was sent with the text before the include: the connection is cut, so the client
  // sees a broken response (or, when the cut overtakes the head on the wire, no response at all)
  const b = await request(`${p.url}${late}`).catch((err: NodeJS.ErrnoException) => err)
  if (b instanceof Error) assert.equal(b.code, 'ECONNRESET')
  else {
    assert.equal(b.status, 200)
    assert.ok(b.isAborted, 'never completed as if whole')
    assert.doesNotMatch(b.body, /secrets|rest/)
  }
  // the origin recovers: the stored page (a template) is assembled whole, the error body never was in it
  isBroken = false
  await request(`${p.url}${broken}`, { method: 'PURGE' })
  const c = await request(`${p.url}${late}`)
  assert.ok(isHit(c), cacheStatus(c))
  assert.equal(c.isAborted, false)
  assert.match(c.body, /fixed<p>rest<\/p>$/)
})

test('failures: esi.onError empty leaves the include out, comment marks it; a try still takes its except', async () => {
  const broken = path('gone'); const page = path('page')
  origin.on(broken, (_req, res) => { res.writeHead(503, { 'content-type': 'text/html' }); res.end('down') })
  origin.on(page, html(`a<esi:include src="${broken}"/>b<esi:try><esi:attempt><esi:include src="${broken}"/></esi:attempt><esi:except>E</esi:except></esi:try>`, ESI))
  const empty = await proxy({ esi: { onError: 'empty' } })
  assert.equal((await request(`${empty.url}${page}`)).body, 'abE')
  const comment = await proxy({ esi: { onError: 'comment' } })
  assert.equal((await request(`${comment.url}${page}`)).body, 'a<!-- esi:include failed -->bE')
})

test('failures: a passed (no-store) ESI page is processed on the fly; HEAD fetches no fragment', async () => {
  const p = await proxy()
  const page = path('live-page'); const frag = path('frag')
  origin.on(page, html(`[<esi:include src="${frag}"/>]`, { ...ESI, 'cache-control': 'no-store' }))
  origin.on(frag, html('F', { 'cache-control': 'no-store' }))
  assert.equal((await request(`${p.url}${page}`)).body, '[F]')
  assert.equal((await request(`${p.url}${page}`)).body, '[F]')
  assert.equal(origin.count(page), 2)
  const head = await request(`${p.url}${page}`, { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(origin.count(frag), 2, 'no fragment for a HEAD')
})

// ── compression ─────────────────────────────────────────────────────────────

function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    }).on('error', reject)
  })
}

test('compression: gzip and br origin bodies are decoded; the page is sent br, gzip or identity as the client accepts', async () => {
  const p = await proxy()
  const gz = path('gz'); const br = path('br'); const frag = path('frag')
  const template = (name: string) => `<h1>${name}</h1>${'padding '.repeat(200)}<esi:include src="${frag}"/>`
  origin.on(gz, (_req, res) => { res.writeHead(200, { ...ESI, 'content-type': 'text/html', 'content-encoding': 'gzip', vary: 'Accept-Encoding', 'cache-control': 'max-age=60' }); res.end(gzipSync(template('gz'))) })
  origin.on(br, (_req, res) => { res.writeHead(200, { ...ESI, 'content-type': 'text/html', 'content-encoding': 'br', 'cache-control': 'max-age=60' }); res.end(brotliCompressSync(template('br'))) })
  origin.on(frag, (_req, res) => { res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip', 'cache-control': 'max-age=60' }); res.end(gzipSync('<p>fragment</p>')) })
  const expected = (name: string) => `<h1>${name}</h1>${'padding '.repeat(200)}<p>fragment</p>`
  const asBr = await rawGet(`${p.url}${gz}`, { 'accept-encoding': 'gzip, br' })
  assert.equal(asBr.headers['content-encoding'], 'br')
  assert.equal(brotliDecompressSync(asBr.body).toString(), expected('gz'))
  const asGzip = await rawGet(`${p.url}${gz}`, { 'accept-encoding': 'gzip' })
  assert.equal(asGzip.headers['content-encoding'], 'gzip')
  assert.equal(gunzipSync(asGzip.body).toString(), expected('gz'))
  const identity = await rawGet(`${p.url}${gz}`, {})
  assert.equal(identity.headers['content-encoding'], undefined)
  assert.equal(identity.body.toString(), expected('gz'))
  assert.equal(origin.count(gz), 1, 'stored decoded: one copy serves every coding')
  const fromBr = await rawGet(`${p.url}${br}`, { 'accept-encoding': 'br;q=0, gzip;q=0.5' })
  assert.equal(fromBr.headers['content-encoding'], 'gzip')
  assert.equal(gunzipSync(fromBr.body).toString(), expected('br'))
  assert.match(String(fromBr.headers.vary), /Accept-Encoding/)
})

// ── streaming ───────────────────────────────────────────────────────────────

test('streaming: a page split into one-byte chunks is parsed as it arrives; text before a slow include reaches the client first', async () => {
  const p = await proxy()
  const page = path('dribble'); const slow = path('slow'); const fast = path('fast')
  let release!: () => void
  const released = new Promise<void>((resolve) => { release = resolve })
  origin.on(slow, async (req, res) => { await released; html('SLOW')(req, res, '') })
  origin.on(fast, html('FAST'))
  const template = `<p>head</p><esi:include src="${slow}"/><esi:choose><esi:when test="$(QUERY_STRING{a})=='1'">one</esi:when></esi:choose><esi:include src="${fast}"/>`
  origin.on(page, async (_req, res) => {
    res.writeHead(200, { ...ESI, 'content-type': 'text/html', 'cache-control': 'no-store' })
    for (const byte of Buffer.from(template)) { res.write(Buffer.from([byte])); await sleep(0) }
    res.end()
  })
  const body = await new Promise<string>((resolve, reject) => {
    http.get(`${p.url}${page}?a=1`, { agent: false }, (res) => {
      let text = ''
      res.on('data', (c: Buffer) => {
        text += c.toString()
        // the slow fragment is released only once the text before it reached the client:
        // a processor that waited for the whole page would never get here (the include would time out)
        if (text.includes('<p>head</p>')) release()
      })
      res.on('end', () => resolve(text))
    }).on('error', reject)
  })
  assert.equal(body, '<p>head</p>SLOWoneFAST')
})

test('parallel: all includes of a page are requested before any of them answers', async () => {
  const p = await proxy()
  const page = path('parallel')
  const frags = Array.from({ length: 5 }, (_, i) => path(`p${i}`))
  let waiting = 0
  let releaseAll!: () => void
  const allAsked = new Promise<void>((resolve) => { releaseAll = resolve })
  for (const f of frags) {
    origin.on(f, async (req, res) => {
      // each fragment answers only once every fragment was asked for: serial fetching would stall
      if (++waiting === frags.length) releaseAll()
      await allAsked
      html(f)(req, res, '')
    })
  }
  origin.on(page, html(frags.map((f) => `<esi:include src="${f}"/>`).join(','), ESI))
  const res = await request(`${p.url}${page}`)
  assert.equal(res.body, frags.join(','))
})
