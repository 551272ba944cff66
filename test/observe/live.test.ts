/**
 * o002: the live numbers. `GET /snapshot` (JSON) and `GET /events` (Server-Sent Events: first
 * `event: history`, then one `event: tick` per second) reflect a load: requests per state in
 * the last complete second, hit ratio, p50/p95/p99, the most missed and the slowest URLs of the
 * last minute; their per-second counts add up to what /metrics counted. The dashboard, /events
 * and /snapshot show URLs and are refused (403) to a caller outside trust.allow (a bearer token
 * lets one in); /metrics, /stats and the dashboard's script are not guarded.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, test } from 'node:test'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { request, startProxy, type TestProxy } from '../helpers/proxy.js'

const SLOW_MS = 200
let origin: TestOrigin
let proxy: TestProxy
let host: string
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })

before(async () => {
  origin = await startOrigin({
    '/hot-miss': (_req, res) => { res.writeHead(200, { 'cache-control': 'no-store' }); res.end('never stored') },
    '/slow-page': async (_req, res) => { await sleep(SLOW_MS); res.writeHead(200, { 'cache-control': 'no-store' }); res.end('slow') },
    '*': (req, res) => { res.writeHead(200, { 'cache-control': 'max-age=300' }); res.end(`page ${req.url}`) },
  })
  proxy = await startProxy({ origin: origin.url })
  host = new URL(proxy.url).host
})
after(async () => { agent.destroy(); await proxy?.close(); await origin?.close() })

const get = (path: string, headers: Record<string, string> = {}) => request(`${proxy.url}${path}`, { agent, headers })

async function snapshot(adminUrl = proxy.adminUrl, headers: Record<string, string> = {}): Promise<any> {
  const res = await request(`${adminUrl}/snapshot`, { headers })
  assert.equal(res.status, 200, res.body)
  assert.match(String(res.headers['content-type']), /application\/json/)
  return JSON.parse(res.body)
}

async function requestsTotal(adminUrl = proxy.adminUrl): Promise<Record<string, number>> {
  const text = (await request(`${adminUrl}/metrics`)).body
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^lacquer_requests_total\{state="(\w+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2])
  return out
}

/** Waits until just after a second boundary, so that a short burst fits in one second. */
async function startOfSecond(): Promise<number> {
  await sleep(1000 - (Date.now() % 1000) + 20)
  return Math.floor(Date.now() / 1000)
}

test('/snapshot: the last complete second by state, hit ratio, quantiles, top missed and slowest URLs', async () => {
  for (let i = 0; i < 5; i++) await get(`/warm/${i}`)
  const before = await requestsTotal()
  assert.equal(before.miss, 5)
  const HITS = 40
  const MISSES = 6
  const PASSES = 2
  let second = 0
  for (let attempt = 0; attempt < 4; attempt++) {
    second = await startOfSecond()
    const slow = get('/slow-page')
    await Promise.all(Array.from({ length: HITS }, (_, i) => get(`/warm/${i % 5}`)))
    for (let i = 0; i < MISSES; i++) await get('/hot-miss')
    for (let i = 0; i < PASSES; i++) await get('/warm/0', { cookie: 'session=bob' })
    await slow
    if (Math.floor(Date.now() / 1000) === second) break
    second = 0 // the burst crossed a second boundary (a loaded machine): again
  }
  assert.ok(second, 'the burst fitted in one second in one of 4 attempts')
  await sleep(1000 - (Date.now() % 1000) + 30)
  const snap = await snapshot()
  const p = snap.point
  assert.equal(p.t, second, 'the point is the second just completed')
  assert.deepEqual(p.requests, { hit: HITS, stale: 0, miss: MISSES + 1, coalesced: 0, pass: PASSES, synth: 0, purge: 0 })
  assert.equal(p.total, HITS + MISSES + 1 + PASSES)
  assert.equal(p.hitRatio, HITS / (HITS + MISSES + 1))
  assert.ok(p.p50 > 0 && p.p50 <= p.p95 && p.p95 <= p.p99, `p50 ${p.p50} p95 ${p.p95} p99 ${p.p99}`)
  assert.ok(p.p50 < SLOW_MS, `p50 ${p.p50} ms: most requests were hits`)
  // in ms (bucket upper bounds): with 49 requests the p99 is the slowest one, the slow page (> 0.1 s)
  assert.ok(p.p99 >= 250, `p99 ${p.p99}`)
  assert.equal(p.originRequests, MISSES + 1 + PASSES)
  assert.equal(p.originErrors, 0)
  // the most missed URL of the last minute (passes count as misses of the cache too)
  assert.deepEqual(snap.topMissed[0], { url: `${host}/hot-miss`, misses: MISSES })
  assert.ok(snap.topMissed.some((r: any) => r.url === `${host}/slow-page` && r.misses === 1))
  assert.ok(snap.topMissed.length <= 10)
  for (let i = 1; i < snap.topMissed.length; i++) assert.ok(snap.topMissed[i].misses <= snap.topMissed[i - 1].misses)
  // the slowest request of the last minute
  assert.equal(snap.slowest[0].url, `${host}/slow-page`)
  assert.equal(snap.slowest[0].state, 'miss')
  assert.ok(snap.slowest[0].ms >= SLOW_MS, `${snap.slowest[0].ms} ms`)
  for (let i = 1; i < snap.slowest.length; i++) assert.ok(snap.slowest[i].ms <= snap.slowest[i - 1].ms)
  assert.ok(snap.slowest.length <= 10)
  assert.equal(snap.store.objects, 5)
  assert.ok(snap.store.bytes > 0 && snap.store.maxBytes > snap.store.bytes)
  assert.deepEqual(snap.origins, [{ name: 'origin1', healthy: true }])
  assert.equal(snap.bansPending, 0)
  // the minute of history ends with the same second, and adds up to what /metrics counted
  assert.equal(snap.history.length, 60)
  assert.deepEqual(snap.history[59], p)
  for (let i = 1; i < 60; i++) assert.equal(snap.history[i].t, snap.history[i - 1].t + 1)
  const after = await requestsTotal()
  const fromHistory: Record<string, number> = {}
  for (const point of snap.history) for (const [state, n] of Object.entries(point.requests)) fromHistory[state] = (fromHistory[state] ?? 0) + (n as number)
  // this Lacquer's whole life (warm-up included) is within the minute
  assert.deepEqual(fromHistory, after)
  assert.equal(after.hit! - before.hit!, HITS)
})

interface SseEvent { event: string; data: any; at: number }

/** Opens /events and collects the events (each with its arrival time) until `stop`. */
function openEvents(adminUrl: string): { events: SseEvent[]; status: Promise<number>; retry: Promise<string | undefined>; close(): void; waitFor(n: number, ms: number): Promise<void> } {
  const events: SseEvent[] = []
  let req: http.ClientRequest
  let retry: (value: string | undefined) => void
  const retryPromise = new Promise<string | undefined>((resolve) => { retry = resolve })
  const status = new Promise<number>((resolve, reject) => {
    req = http.get(`${adminUrl}/events`, { agent: false }, (res) => {
      resolve(res.statusCode ?? 0)
      assert.equal(res.headers['content-type'], 'text/event-stream')
      res.setEncoding('utf8')
      let buffer = ''
      res.on('data', (text: string) => {
        buffer += text
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const r = /^retry: (\d+)$/m.exec(frame)
          if (r) retry(r[1])
          const event = /^event: (.*)$/m.exec(frame)?.[1]
          const data = /^data: (.*)$/m.exec(frame)?.[1]
          if (event) events.push({ event, data: data === undefined ? undefined : JSON.parse(data), at: Date.now() })
        }
      })
      res.on('error', () => {})
    })
    req.on('error', reject)
  })
  return {
    events, status, retry: retryPromise,
    close: () => req.destroy(),
    async waitFor(n, ms) {
      const until = Date.now() + ms
      while (events.length < n) {
        if (Date.now() > until) throw new Error(`only ${events.length} of ${n} events in ${ms} ms: ${JSON.stringify(events.map((e) => e.event))}`)
        await sleep(20)
      }
    },
  }
}

test('/events: first the history, then one tick per second that carries the load of that second', async () => {
  const stream = openEvents(proxy.adminUrl)
  try {
    assert.equal(await stream.status, 200)
    assert.equal(await stream.retry, '1000')
    await stream.waitFor(2, 3000)
    assert.equal(stream.events[0]!.event, 'history')
    const history = stream.events[0]!.data
    assert.equal(history.length, 60)
    assert.ok(history.every((p: any) => typeof p.t === 'number' && 'requests' in p && 'p99' in p))
    const first = stream.events[1]!
    assert.equal(first.event, 'tick')
    const loadFrom = first.data.point.t + 1 // the second the first tick was sent in
    // a load of hits for ~2.5 s, counted by the client
    let sent = 0
    const until = Date.now() + 2500
    while (Date.now() < until) {
      await Promise.all(Array.from({ length: 10 }, () => get('/warm/1')))
      sent += 10
      await sleep(40)
    }
    const loadTo = Math.floor(Date.now() / 1000)
    // wait for the tick that reports the last second of the load
    const deadline = Date.now() + 4000
    while (!stream.events.some((e) => e.event === 'tick' && e.data.point.t >= loadTo)) {
      assert.ok(Date.now() < deadline, 'a tick reported the last second of the load')
      await sleep(50)
    }
    const ticks = stream.events.slice(1)
    assert.ok(ticks.every((e) => e.event === 'tick'), 'after the history, only ticks')
    assert.ok(ticks.length >= 4, `ticks: ${ticks.length}`)
    // one tick per second, each for the next second, about a second apart
    for (let i = 1; i < ticks.length; i++) {
      assert.equal(ticks[i]!.data.point.t, ticks[i - 1]!.data.point.t + 1, 'consecutive seconds, none skipped or repeated')
      const gap = ticks[i]!.at - ticks[i - 1]!.at
      assert.ok(gap > 500 && gap < 1600, `ticks ${gap} ms apart`)
    }
    // each tick is sent just after its second ended
    for (const tick of ticks) assert.ok(tick.at >= (tick.data.point.t + 1) * 1000 && tick.at < (tick.data.point.t + 1) * 1000 + 600, `tick for ${tick.data.point.t} at ${tick.at}`)
    // the ticks of the load's seconds add up to the requests sent, all of them hits
    const during = ticks.filter((e) => e.data.point.t >= loadFrom && e.data.point.t <= loadTo)
    assert.equal(during.reduce((n, e) => n + e.data.point.requests.hit, 0), sent)
    assert.equal(during.reduce((n, e) => n + e.data.point.total, 0), sent)
    const busiest = during.reduce((a, b) => (a.data.point.total > b.data.point.total ? a : b))
    assert.ok(busiest.data.point.total >= 20, `busiest second: ${busiest.data.point.total}`)
    assert.equal(busiest.data.point.hitRatio, 1)
    const tick = busiest.data
    for (const key of ['point', 'topMissed', 'slowest', 'store', 'origins', 'bansPending']) assert.ok(key in tick, `tick has ${key}`)
  } finally {
    stream.close()
  }
})

test('two open streams get the same tick', async () => {
  const a = openEvents(proxy.adminUrl)
  const b = openEvents(proxy.adminUrl)
  try {
    await a.waitFor(3, 4000)
    await b.waitFor(3, 4000)
    const tickA = a.events.find((e) => e.event === 'tick' && b.events.some((f) => f.event === 'tick' && f.data.point.t === e.data.point.t))
    assert.ok(tickA, 'a second both streams reported')
    const tickB = b.events.find((e) => e.event === 'tick' && e.data.point.t === tickA.data.point.t)!
    assert.deepEqual(tickA.data, tickB.data)
  } finally {
    a.close()
    b.close()
  }
})

test('outside trust.allow: the dashboard, /events and /snapshot are refused with 403; /metrics, /stats, /healthz and the assets are not', async () => {
  const TOKEN = 'observe-token-0123456789'
  const o = await startOrigin()
  const p = await startProxy({ origin: o.url, trust: { allow: ['10.0.0.0/8'], token: TOKEN } })
  try {
    for (const path of ['/', '/events', '/snapshot']) {
      const res = await request(`${p.adminUrl}${path}`)
      assert.equal(res.status, 403, `${path}: ${res.body}`)
      assert.doesNotMatch(res.body, /<html|uPlot|"point"/, `${path} reveals nothing`)
      assert.notEqual(res.headers['content-type'], 'text/event-stream')
    }
    for (const path of ['/metrics', '/stats', '/healthz', '/assets/uPlot.iife.min.js', '/assets/uPlot.min.css']) {
      const res = await request(`${p.adminUrl}${path}`)
      assert.equal(res.status, 200, path)
    }
    // the bearer token lets a caller in
    const bearer = { authorization: `Bearer ${TOKEN}` }
    assert.equal((await request(`${p.adminUrl}/`, { headers: bearer })).status, 200)
    const snap = await snapshot(p.adminUrl, bearer)
    assert.ok('point' in snap && 'history' in snap)
    const wrong = await request(`${p.adminUrl}/snapshot`, { headers: { authorization: 'Bearer not-the-token-at-all' } })
    assert.ok(wrong.status === 403 || wrong.status === 401, `wrong token: ${wrong.status}`)
  } finally {
    await p.close()
    await o.close()
  }
})

test('the dashboard page is served whole, small, and its script from the admin port', async () => {
  const page = await request(`${proxy.adminUrl}/`)
  assert.equal(page.status, 200)
  assert.match(String(page.headers['content-type']), /^text\/html/)
  assert.ok(page.body.length < 64 * 1024, `${page.body.length} bytes`)
  for (const id of ['rps', 'hit-ratio', 'p50', 'p95', 'p99', 'origin-rps', 'store-objects', 'store-use', 'total', 'chart-states', 'top-missed', 'slowest']) {
    assert.match(page.body, new RegExp(`id="${id}"`), `#${id}`)
  }
  assert.match(page.body, /new EventSource\('\/events'\)/)
  const script = await request(`${proxy.adminUrl}/assets/uPlot.iife.min.js`)
  assert.equal(script.status, 200)
  assert.match(String(script.headers['content-type']), /javascript/)
  assert.match(script.body, /uPlot/)
})
