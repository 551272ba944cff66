#!/usr/bin/env node
/**
 * What `--workers N` does to the cache (not to CPU: `npm run bench` measures that), for
 * N = 1 and 2 side by side (LACQUER_WORKERS="1,2,4" for others):
 *
 *   1. cold bursts — BURST (200) clients, each on its own new connection, ask for one cold URL
 *      at once; the origin takes 100 ms. Origin requests per burst: 1 for one process; with
 *      workers each coalesces its own share, so up to N. Repeated for BURSTS (5) URLs.
 *   2. a working set — URLS (1,000) URLs asked REPEAT (10) times each in random order over 32
 *      keep-alive connections. Hit ratio and origin requests: each worker fills its own store,
 *      so every URL costs up to N misses instead of 1.
 *   3. the spread — how the requests of part 1 (a new connection each) fell on the workers, from
 *      /stats: even under SCHED_RR (the default), up to the kernel under SCHED_NONE (the last
 *      row, NODE_CLUSTER_SCHED_POLICY=none).
 *
 * The origin and Lacquer run as separate processes on free ports; figures come from the origin's
 * own counts and Lacquer's /stats. It measures; it never asserts. Run `npm run build` first.
 */
import { spawn } from 'node:child_process'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const MAIN = path.join(ROOT, 'dist/src/cli/main.js')
const RUNS = [...(process.env.LACQUER_WORKERS ?? '1,2').split(',').map((n) => ({ workers: Number(n) })), { workers: 2, policy: 'none' }]
const BURST = Number(process.env.BURST ?? 200)
const BURSTS = Number(process.env.BURSTS ?? 5)
const URLS = Number(process.env.URLS ?? 1000)
const REPEAT = Number(process.env.REPEAT ?? 10)
const ORIGIN_DELAY_MS = 100

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Every page cacheable for an hour; the cold ones slow. Counts requests per path. */
function startOrigin() {
  const counts = new Map()
  const server = http.createServer((req, res) => {
    counts.set(req.url, (counts.get(req.url) ?? 0) + 1)
    const answer = () => { res.writeHead(200, { 'cache-control': 'max-age=3600', 'content-type': 'text/html' }); res.end(`<p>${req.url}</p>`.repeat(20)) }
    if (req.url.startsWith('/cold/')) setTimeout(answer, ORIGIN_DELAY_MS)
    else answer()
  })
  server.keepAliveTimeout = 30_000
  return new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    count: (prefix) => [...counts].filter(([url]) => url.startsWith(prefix)).reduce((n, [, c]) => n + c, 0),
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r) }),
  })))
}

function startLacquer(originUrl, { workers, policy }) {
  const proc = spawn(process.execPath, [MAIN, 'serve', '--workers', String(workers), '--origin', originUrl, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--log-level', 'error'],
    { stdio: ['ignore', 'pipe', 'inherit'], env: policy ? { ...process.env, NODE_CLUSTER_SCHED_POLICY: policy } : process.env })
  let out = ''
  proc.stdout.on('data', (d) => { out += d })
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /serving (\S+) → \S+ \(admin (\S+)\)/.exec(out)
      if (m) { clearInterval(timer); resolve({ url: m[1], admin: m[2], stop: () => { proc.kill('SIGTERM'); return new Promise((r) => proc.on('exit', r)) } }) }
    }, 50)
    proc.on('exit', (code) => { clearInterval(timer); reject(new Error(`lacquer exited ${code}: ${out}`)) })
  })
}

function get(url, agent = false) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode))
    }).on('error', reject)
  })
}

async function stats(admin) {
  return new Promise((resolve, reject) => http.get(`${admin}/stats`, (res) => {
    let body = ''
    res.on('data', (d) => { body += d })
    res.on('end', () => resolve(JSON.parse(body)))
  }).on('error', reject))
}

async function measure(run) {
  const origin = await startOrigin()
  const lacquer = await startLacquer(origin.url, run)
  try {
    const perBurst = []
    let failed = 0
    for (let b = 0; b < BURSTS; b++) {
      const statuses = await Promise.all(Array.from({ length: BURST }, () => get(`${lacquer.url}/cold/${b}`)))
      failed += statuses.filter((s) => s !== 200).length
      perBurst.push(origin.count(`/cold/${b}`))
    }
    const spread = ((await stats(lacquer.admin)).workers ?? []).map((w) => w.requests)
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 })
    const order = Array.from({ length: URLS * REPEAT }, (_, i) => i % URLS)
    for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [order[i], order[j]] = [order[j], order[i]] }
    const before = await stats(lacquer.admin)
    let next = 0
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < order.length) {
        const status = await get(`${lacquer.url}/set/${order[next++]}`, agent)
        if (status !== 200) failed++
      }
    }))
    agent.destroy()
    const after = await stats(lacquer.admin)
    const hits = after.hits - before.hits
    const misses = after.misses - before.misses
    return {
      ...run, spread, burstClients: BURST, originRequestsPerBurst: perBurst,
      setRequests: order.length, setHitRatio: hits / (hits + misses), setOriginRequests: origin.count('/set/'), failed,
      storeObjects: after.store.objects,
    }
  } finally {
    await lacquer.stop()
    await origin.close()
  }
}

const results = []
for (const run of RUNS) {
  results.push(await measure(run))
  await sleep(200)
}
console.log(`cold bursts: ${BURST} clients on one cold URL (origin ${ORIGIN_DELAY_MS} ms), ${BURSTS} times; working set: ${URLS} URLs × ${REPEAT}, random order, 32 keep-alive connections\n`)
console.log('| workers | origin requests per cold burst | working set: hit ratio | origin requests | objects stored | bursts\' requests per worker | failed requests |')
console.log('| --- | --- | ---: | ---: | ---: | --- | ---: |')
for (const r of results) {
  console.log(`| ${r.workers}${r.policy ? `, SCHED_${r.policy.toUpperCase()}` : ''} | ${r.originRequestsPerBurst.join(', ')} | ${(r.setHitRatio * 100).toFixed(1)} % | ${r.setOriginRequests} | ${r.storeObjects} | ${r.spread.join(' / ') || '–'} | ${r.failed} |`)
}
