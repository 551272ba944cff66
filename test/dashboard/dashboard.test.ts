/**
 * d001: the live dashboard in a real headless Chromium (Debian's chromium, driven by
 * playwright-core). While a bounded load runs (~200 hits/s over ten stored pages and a few
 * misses/s on three never-stored URLs, for ~5 s, from this process), the page's tiles and uPlot
 * charts move, the most missed URLs are listed in order, and its numbers match /metrics: the
 * total of requests equals what lacquer_requests_total counted,
 * the stored-object tile equals lacquer_store_objects. A screenshot under load is saved to
 * docs/dashboard.png (full page, 1280 px wide).
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import http from 'node:http'
import { after, before, test } from 'node:test'
import { launchBrowser, requireChromium, type TestBrowser } from '../helpers/browser.js'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { request, startProxy, type TestProxy } from '../helpers/proxy.js'

/** docs/dashboard.png is refreshed with LACQUER_WRITE_SCREENSHOT=1; otherwise the shot goes to a temp file. */
const SCREENSHOT = process.env.LACQUER_WRITE_SCREENSHOT === '1' ? 'docs/dashboard.png' : join(tmpdir(), `lacquer-dashboard-${process.pid}.png`)
const HOT_PAGES = 10
const PAGE = 'x'.repeat(1024)
const LOAD_MS = 5000
/** per 100 ms: 20 hits; /miss/a every 100 ms, /miss/b every 200 ms, /miss/c every 500 ms */
const HITS_PER_TICK = 20
const MISS_EVERY = { a: 1, b: 2, c: 5 } as const

let origin: TestOrigin
let proxy: TestProxy
let browser: TestBrowser
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 })
const pageErrors: string[] = []

before(async () => {
  origin = await startOrigin({
    '/miss/a': (_req, res) => { res.writeHead(200, { 'cache-control': 'no-store' }); res.end('a') },
    '/miss/b': (_req, res) => { res.writeHead(200, { 'cache-control': 'no-store' }); res.end('b') },
    '/miss/c': (_req, res) => { res.writeHead(200, { 'cache-control': 'no-store' }); res.end('c') },
    '*': (_req, res) => { res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/html' }); res.end(PAGE) },
  })
  proxy = await startProxy({ origin: origin.url })
})
after(async () => {
  await browser?.close()
  agent.destroy()
  await proxy?.close()
  await origin?.close()
})

async function metrics(): Promise<{ requests: number; byState: Record<string, number>; storeObjects: number }> {
  const text = (await request(`${proxy.adminUrl}/metrics`)).body
  const byState = Object.fromEntries([...text.matchAll(/^lacquer_requests_total\{state="(\w+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]))
  const storeObjects = Number(/^lacquer_store_objects (\d+)$/m.exec(text)![1])
  return { requests: Object.values(byState).reduce((a, b) => a + b, 0), byState, storeObjects }
}

const TILES = ['rps', 'hit-ratio', 'p50', 'p95', 'p99', 'origin-rps', 'origin-errors', 'store-objects', 'store-use', 'total', 'clock'] as const
type Tiles = Record<(typeof TILES)[number], string>

/** All tiles read in one evaluation: one second's frame, never a mix of two ticks. */
async function readTiles(): Promise<Tiles> {
  return browser.page.evaluate((ids) => Object.fromEntries(ids.map((id) => [id, document.querySelector(`#${id}`)?.textContent?.trim() ?? ''])), [...TILES]) as Promise<Tiles>
}

/** A tile's plain number (the page shows 1.2k above 10 000; this load stays below). */
function num(text: string): number {
  assert.match(text, /^\d+(\.\d+)?$/, `a plain number: "${text}"`)
  return Number(text)
}

/** What the charts hold: each uPlot's data and a fingerprint of its canvas. */
async function readCharts(): Promise<Record<string, { points: number; series: number[][]; canvas: string; width: number }>> {
  return browser.page.evaluate(() => {
    const out: Record<string, { points: number; series: number[][]; canvas: string; width: number }> = {}
    for (const name of ['states', 'latency', 'origin', 'ratio']) {
      const canvas = document.querySelector(`#chart-${name} canvas`) as HTMLCanvasElement | null
      // the page's charts are top-level script bindings
      const chart = (globalThis as any).eval(`charts.${name}`)
      out[name] = {
        points: chart.data[0].length,
        series: chart.data.slice(1).map((s: Array<number | null>) => s.slice(-8).map((v) => v ?? -1)),
        canvas: canvas ? canvas.toDataURL() : '',
        width: canvas ? canvas.width : 0,
      }
    }
    return out
  })
}

async function ticksSeen(): Promise<number[]> {
  return browser.page.evaluate(() => (globalThis as any).eval('data.t.slice()'))
}

test('Chromium is installed (else: apt-get install -y chromium)', () => {
  assert.throws(() => requireChromium('/nonexistent/chromium'), /apt-get install -y chromium/)
  requireChromium()
})

test('the dashboard under load: tiles and charts move, the most missed URLs are listed, the numbers match /metrics', async () => {
  // warm the store, then let that second end so the page starts from a quiet second
  for (let i = 0; i < HOT_PAGES; i++) await request(`${proxy.url}/hot/${i}`, { agent })
  await sleep(1100)
  const start = await metrics()
  assert.equal(start.storeObjects, HOT_PAGES)

  browser = await launchBrowser({ width: 1280, height: 900 })
  const { page } = browser
  page.on('pageerror', (err) => pageErrors.push(String(err)))
  // a resource that fails is named by its response; the browser's own favicon probe is not the page's
  page.on('console', (msg) => { if (msg.type() === 'error' && !/^Failed to load resource/.test(msg.text())) pageErrors.push(msg.text()) })
  page.on('response', (res) => { if (res.status() >= 400 && new URL(res.url()).pathname !== '/favicon.ico') pageErrors.push(`${res.status()} ${res.url()}`) })
  page.on('requestfailed', (req) => { if (!/\/events$/.test(req.url())) pageErrors.push(`failed ${req.url()}`) })
  const response = await page.goto(`${proxy.adminUrl}/`, { waitUntil: 'load', timeout: 15_000 })
  assert.equal(response?.status(), 200)
  assert.equal(await page.title(), 'Lacquer — live')
  // the history arrives at once; the first tick within a second
  await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'live', undefined, { timeout: 5000 })
  const firstTicks = await ticksSeen()
  const firstTick = firstTicks[firstTicks.length - 1]!
  const before = await readTiles()
  const totalBefore = num(before.total)

  // the load: ~200 hits/s and a few misses/s, for LOAD_MS
  const sent = { hits: 0, a: 0, b: 0, c: 0 }
  let isLoading = true
  const load = (async () => {
    for (let tick = 0; isLoading; tick++) {
      const batch: Array<Promise<unknown>> = []
      for (let i = 0; i < HITS_PER_TICK; i++) batch.push(request(`${proxy.url}/hot/${(tick + i) % HOT_PAGES}`, { agent }).then(() => { sent.hits++ }))
      for (const [name, every] of Object.entries(MISS_EVERY) as Array<[keyof typeof MISS_EVERY, number]>) {
        if (tick % every === 0) batch.push(request(`${proxy.url}/miss/${name}`, { agent }).then(() => { sent[name]++ }))
      }
      await Promise.all([...batch, sleep(100)])
    }
  })()
  const loadStartedAt = Date.now()

  // two reads a couple of seconds apart, under load
  await sleep(2200)
  const readA = await readTiles()
  const chartsA = await readCharts()
  await sleep(2000)
  const readB = await readTiles()
  const totalAtB = (await metrics()).requests
  const chartsB = await readCharts()
  await page.screenshot({ path: SCREENSHOT, fullPage: true })
  await sleep(Math.max(0, LOAD_MS - (Date.now() - loadStartedAt)))
  isLoading = false
  await load
  const loadEndedAt = Date.now()

  // ── the tiles move and show the load
  for (const read of [readA, readB]) {
    assert.ok(num(read.rps) >= 20, `requests/s under load: ${read.rps}`)
    assert.match(read['hit-ratio'], /^\d+(\.\d)? %$/)
    const ratio = Number(read['hit-ratio'].replace(' %', ''))
    assert.ok(ratio >= 70 && ratio < 100, `hit ratio ${ratio} %: mostly hits, some misses`)
    const [p50, p95, p99] = [num(read.p50), num(read.p95), num(read.p99)]
    assert.ok(p50 > 0 && p50 <= p95 && p95 <= p99, `p50 ${p50} ≤ p95 ${p95} ≤ p99 ${p99}`)
    assert.ok(num(read['origin-rps']) >= 1, `origin requests/s: ${read['origin-rps']}`)
    assert.equal(num(read['origin-errors']), 0)
    assert.equal(read['store-objects'], String(HOT_PAGES))
    assert.match(read['store-use'], /^\d+\.\d KiB \/ 256\.0 MiB$/)
  }
  assert.ok(num(readB.total) > num(readA.total) && num(readA.total) > totalBefore, `total moves: ${totalBefore} → ${readA.total} → ${readB.total}`)
  assert.notEqual(readA.clock, readB.clock, 'the clock moves')
  assert.notDeepEqual(readA, readB)

  // ── the charts are drawn, hold data, and move
  for (const [name, chart] of Object.entries(chartsB)) {
    assert.ok(chart.width >= 300, `#chart-${name} has a canvas`)
    assert.ok(chart.points >= 60, `#chart-${name}: ${chart.points} points (the minute of history and the ticks)`)
    assert.ok(chart.points > chartsA[name]!.points, `#chart-${name} grew`)
    assert.notEqual(chart.canvas, chartsA[name]!.canvas, `#chart-${name} was redrawn`)
  }
  const hitSeries = chartsB.states!.series[0]!
  assert.ok(hitSeries.some((v) => v >= 20), `hits per second charted: ${hitSeries}`)
  assert.ok(chartsB.origin!.series[0]!.some((v) => v >= 1), 'origin requests charted')
  assert.ok(chartsB.latency!.series[2]!.some((v) => v > 0), 'p99 charted')

  // ── after the load: wait for the tick that reports its last second
  const lastLoadSecond = Math.floor(loadEndedAt / 1000)
  await page.waitForFunction((t) => {
    const ts = (globalThis as any).eval('data.t') as number[]
    return ts[ts.length - 1]! >= t
  }, lastLoadSecond, { timeout: 5000 })
  const end = await metrics()
  const final = await readTiles()
  // #total is the server's count since start (the snapshot's totals: the very numbers behind
  // lacquer_requests_total, read when the tick was built). No traffic ran outside the load and
  // the admin requests are not counted, so before the load it must equal /metrics' sum at the
  // start, and once a tick after the load has been shown, /metrics' sum at the end — exactly,
  // no tolerance needed. Under load the tile may only lag /metrics (read after it).
  const counted = end.requests - start.requests
  assert.equal(counted, sent.hits + sent.a + sent.b + sent.c, 'lacquer_requests_total counted every request sent')
  assert.equal(end.byState.hit! - start.byState.hit!, sent.hits)
  assert.equal(totalBefore, start.requests, '#total before the load = lacquer_requests_total')
  assert.equal(num(final.total), end.requests, '#total after the load = lacquer_requests_total')
  assert.ok(num(readB.total) <= totalAtB, `#total under load ${readB.total} ≤ /metrics read after it ${totalAtB}`)
  assert.equal(num(final['store-objects']), end.storeObjects)
  // the charts got one point per second since the first tick: none skipped or repeated
  const ticks = (await ticksSeen()).filter((t) => t >= firstTick)
  for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i], ticks[i - 1]! + 1, `chart seconds: ${ticks}`)

  // ── the most missed URLs of the last minute, most first, with their counts
  const host = new URL(proxy.url).host
  const rows = await page.$$eval('#top-missed tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')))
  assert.deepEqual(rows.slice(0, 3), [[`${host}/miss/a`, String(sent.a)], [`${host}/miss/b`, String(sent.b)], [`${host}/miss/c`, String(sent.c)]])
  const slowest = await page.$$eval('#slowest tr', (trs) => trs.length)
  assert.ok(slowest >= 1, 'the slowest requests are listed')
  const origins = await page.$$eval('#origins tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => `${td.textContent} ${td.className}`)))
  assert.deepEqual(origins, [['origin1 ', 'healthy ok']], 'the origin and its health')
  assert.deepEqual(pageErrors, [], 'no errors in the page')

  // ── the screenshot: a PNG, 1280 px wide, taller than the viewport (full page)
  const png = readFileSync(SCREENSHOT)
  assert.equal(png.subarray(1, 4).toString(), 'PNG')
  assert.equal(png.readUInt32BE(16), 1280, 'width')
  assert.ok(png.readUInt32BE(20) >= 900, `height ${png.readUInt32BE(20)}`)
})
