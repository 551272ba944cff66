#!/usr/bin/env node
// Tag purge cost (issue 4): how long purging one tag takes, per invalidated entry, and that it
// does not grow with the store's total size (the tag index means no scan).
//
//   npm run build && node --expose-gc bench/purge-tags.mjs [--entries 100000] [--skip-http]
//
// Part 1 (store): a MemoryStore filled directly with N objects carrying tags of several
// sizes; each tag purged once, timed with performance.now(); then the same 100-entry tag purge
// in stores of different total sizes.
// Part 2 (end to end): a real Lacquer on loopback in front of a real origin, filled with N
// entries over HTTP, then `POST /purge {"tags":[…]}` on the admin port timed from the client,
// and a ban over the same entries (`wait: true`) for comparison with a scan.
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { createProxy } from '../dist/src/index.js'
import { MemoryStore } from '../dist/src/store/memory-store.js'
import { parseCacheControl } from '../dist/src/http-cache/cache-control.js'
import { computeFreshness } from '../dist/src/http-cache/freshness.js'

const { values: args } = parseArgs({ options: { entries: { type: 'string', default: '100000' }, 'skip-http': { type: 'boolean', default: false } } })
const N = Number(args.entries)

function head(key, tags) {
  const now = Date.now()
  const headers = [['cache-control', 'max-age=3600'], ['content-type', 'text/html']]
  const cc = parseCacheControl(['max-age=3600'])
  return {
    key, status: 200, statusText: 'OK', headers, varyNames: [], varyValues: [], cc, isTargeted: false,
    freshness: computeFreshness(200, headers, cc, false, now, now), deleteAt: now + 3_600_000, tags,
  }
}

/** product-<i%1000> (N/1000 entries each), cat-<i%10> (N/10 each), all (N). */
function tagsOf(i) {
  return [`product-${i % 1000}`, `cat-${i % 10}`, 'all']
}

function fill(count) {
  const store = new MemoryStore({ maxBytes: 8 * 1024 ** 3, maxObjectBytes: 1 << 20 })
  const body = Buffer.alloc(256, 'x')
  for (let i = 0; i < count; i++) {
    const writer = store.openWrite(head(`http://shop.example/p/${i}`, tagsOf(i)))
    writer.write(body)
    writer.end()
  }
  return store
}

function timePurge(store, tag) {
  const t0 = performance.now()
  const n = store.invalidateTag(tag, 'hard')
  const ms = performance.now() - t0
  return { tag, invalidated: n, ms: round(ms), usPerEntry: n ? round((ms * 1000) / n) : 0 }
}

const round = (x) => Math.round(x * 100) / 100

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

console.log(`# tag purge benchmark — ${new Date().toISOString()}, node ${process.version}, ${N} entries\n`)
console.log('## 1. store level (MemoryStore, in process)\n')
{
  const t0 = performance.now()
  const store = fill(N)
  console.log(`filled ${store.stats().objects} objects in ${round(performance.now() - t0)} ms\n`)
  globalThis.gc?.()
  const summary = (label, results) => {
    const ms = median(results.map((r) => r.ms))
    const n = results[0].invalidated
    return `| ${label} | ${results.length} | ${n} | ${ms} | ${round(Math.max(...results.map((r) => r.ms)))} | ${n ? round((ms * 1000) / n) : '-'} |`
  }
  console.log('| tags purged | runs | entries each | ms (median) | ms (max) | µs per entry |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  console.log(summary('product-* (N/1000 entries)', Array.from({ length: 21 }, (_, k) => timePurge(store, `product-${k}`))))
  console.log(summary('cat-* (N/10 entries)', Array.from({ length: 3 }, (_, k) => timePurge(store, `cat-${k}`))))
  console.log(summary('all (what is left)', [timePurge(store, 'all')]))
  console.log(`\nleft in store: ${store.stats().objects}\n`)
}

console.log('## 2. a 100-entry tag in stores of growing size (cost must not grow with the store)\n')
console.log('| store size | entries invalidated | ms (median of 5 tags) |')
console.log('| ---: | ---: | ---: |')
for (const size of [N / 10, N, N * 4]) {
  const store = fill(size)
  // tags of exactly 100 entries: product-k has size/1000 entries, so use a fixed tag set instead
  for (let i = 0; i < 100; i++) {
    for (let k = 0; k < 5; k++) {
      const key = `http://shop.example/fixed/${k}/${i}`
      const writer = store.openWrite(head(key, [`fixed-${k}`]))
      writer.write(Buffer.alloc(256, 'y'))
      writer.end()
    }
  }
  const times = []
  let n = 0
  for (let k = 0; k < 5; k++) {
    const r = timePurge(store, `fixed-${k}`)
    times.push(r.ms)
    n = r.invalidated
  }
  console.log(`| ${size} | ${n} | ${median(times)} |`)
}

if (!args['skip-http']) {
  console.log('\n## 3. end to end: a real Lacquer filled over HTTP, POST /purge on its admin port\n')
  const origin = http.createServer((req, res) => {
    const i = Number(req.url.split('/').pop())
    res.writeHead(200, { 'cache-control': 'max-age=3600', 'surrogate-key': tagsOf(i).join(' '), 'content-type': 'text/html' })
    res.end(`<p>${req.url}</p>`)
  })
  await new Promise((r) => origin.listen(0, '127.0.0.1', r))
  const proxy = createProxy({
    origin: `http://127.0.0.1:${origin.address().port}`, listen: '127.0.0.1:0', admin: '127.0.0.1:0', logLevel: 'error', store: { size: '2gb' },
  })
  const { url, adminUrl } = await proxy.listen()
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  const get = (path) => new Promise((resolve, reject) => {
    http.get(`${url}${path}`, { agent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)) }).on('error', reject)
  })
  const post = (body) => new Promise((resolve, reject) => {
    const data = JSON.stringify(body)
    const req = http.request(`${adminUrl}/purge`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.on('data', (d) => { text += d })
      res.on('end', () => resolve({ status: res.statusCode, receipt: JSON.parse(text) }))
    })
    req.on('error', reject)
    req.end(data)
  })
  const t0 = performance.now()
  let next = 0
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < N) await get(`/p/${next++}`)
  }))
  console.log(`filled ${proxy.store.stats().objects} entries over HTTP in ${round((performance.now() - t0) / 1000)} s\n`)
  console.log('| purge | entries invalidated | ms (client, round trip) | µs per entry |')
  console.log('| --- | ---: | ---: | ---: |')
  for (const body of [{ tags: ['product-7'] }, { tags: ['cat-1'] }, { prefixes: ['/p/'], wait: true }, { tags: ['all'] }]) {
    const t = performance.now()
    const { status, receipt } = await post(body)
    const ms = performance.now() - t
    if (status !== 200) throw new Error(`purge ${JSON.stringify(body)} → ${status} ${JSON.stringify(receipt)}`)
    const n = receipt.invalidated.urls + receipt.invalidated.tags + receipt.invalidated.bans
    console.log(`| ${JSON.stringify(body)} | ${n} | ${round(ms)} | ${n ? round((ms * 1000) / n) : '-'} |`)
  }
  console.log(`\nleft in store: ${proxy.store.stats().objects}`)
  agent.destroy()
  await proxy.close()
  origin.close()
}
