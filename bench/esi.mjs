#!/usr/bin/env node
// ESI page time (issue 5): a page with 10 includes, each from an origin that answers in 50 ms,
// the fragments uncacheable (Cache-Control: no-store) so every page request fetches all ten.
// Lacquer starts every include at once; a serial processor (Varnish open source) fetches them
// one after another, ~10 × 50 ms.
//
//   npm run bench:esi -- [--runs 50] [--includes 10] [--delay 50] [--skip-varnish] [--json FILE]
//
// Starts on free loopback ports: the origin (node:http), Lacquer (in this process) and, when
// Debian's varnishd is installed, Varnish with a VCL that sets beresp.do_esi = true. Each
// target is warmed (the page template stored), then asked for the page `runs` times one after
// another; the time is measured by the client from sending the request to the last byte. The
// body is checked: every fragment in order. Stops only what it started.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { createProxy } from '../dist/src/index.js'

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '50' },
    includes: { type: 'string', default: '10' },
    delay: { type: 'string', default: '50' },
    'skip-varnish': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
})
const RUNS = Number(args.runs)
const INCLUDES = Number(args.includes)
const DELAY_MS = Number(args.delay)
const VARNISHD = ['/usr/sbin/varnishd', '/usr/bin/varnishd'].find((p) => existsSync(p))

const template = `<!doctype html><html><body><h1>product</h1>\n${
  Array.from({ length: INCLUDES }, (_, i) => `<div><esi:include src="/frag/${i}"/></div>\n`).join('')}</body></html>\n`
const expected = template.replace(/<esi:include src="\/frag\/(\d+)"\/>/g, (_m, i) => `<span>fragment ${i}</span>`)

let originRequests = 0
const origin = http.createServer((req, res) => {
  originRequests++
  if (req.url === '/page') {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8', 'cache-control': 'max-age=600', 'surrogate-control': 'content="ESI/1.0"',
      'content-length': Buffer.byteLength(template),
    })
    res.end(template)
    return
  }
  const m = /^\/frag\/(\d+)$/.exec(req.url ?? '')
  if (!m) { res.writeHead(404); res.end(); return }
  setTimeout(() => {
    const body = `<span>fragment ${m[1]}</span>`
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  }, DELAY_MS)
})
origin.keepAliveTimeout = 30_000
await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve))
const originPort = origin.address().port

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
function get(url) {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now()
    http.get(url, { agent }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ ms: performance.now() - startedAt, status: res.statusCode, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    }).on('error', reject)
  })
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

async function measure(name, url) {
  const warm = await get(url)
  if (warm.status !== 200 || warm.body !== expected) throw new Error(`${name}: wrong page (status ${warm.status}):\n${warm.body.slice(0, 300)}`)
  const times = []
  for (let i = 0; i < RUNS; i++) {
    const r = await get(url)
    if (r.body !== expected) throw new Error(`${name}: run ${i} returned a wrong page`)
    times.push(r.ms)
  }
  times.sort((a, b) => a - b)
  return { name, median: percentile(times, 50), p99: percentile(times, 99), min: times[0], max: times[times.length - 1] }
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) })
  })
}

async function startVarnish() {
  const dir = mkdtempSync(join(tmpdir(), 'lacquer-bench-varnish-'))
  const port = await freePort()
  const vcl = join(dir, 'esi.vcl')
  writeFileSync(vcl, `vcl 4.1;
backend origin { .host = "127.0.0.1"; .port = "${originPort}"; }
sub vcl_backend_response {
  if (beresp.http.Surrogate-Control ~ "ESI/1.0") {
    unset beresp.http.Surrogate-Control;
    set beresp.do_esi = true;
  }
}
`)
  const child = spawn(VARNISHD, ['-F', '-j', 'none', '-n', join(dir, 'n'), '-a', `127.0.0.1:${port}`, '-f', vcl, '-s', 'malloc,64m',
    '-p', 'thread_pool_min=10'], { stdio: ['ignore', 'pipe', 'pipe'] })
  // Ctrl-C or the bench runner's SIGTERM: varnishd told to stop, its temp dir removed
  const onExit = () => { if (child.exitCode === null) child.kill('SIGTERM'); rmSync(dir, { recursive: true, force: true }) }
  process.on('exit', onExit)
  let output = ''
  child.stdout.on('data', (d) => { output += d })
  child.stderr.on('data', (d) => { output += d })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`varnishd exited: ${output}`)
    try { await get(`${url}/frag/0`); break } catch { await new Promise((r) => setTimeout(r, 100)) }
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM')
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)))
      rmSync(dir, { recursive: true, force: true })
      process.off('exit', onExit)
    },
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130))

const proxy = createProxy({ origin: `http://127.0.0.1:${originPort}`, listen: '127.0.0.1:0', admin: false, logLevel: 'error' })
const { url: lacquerUrl } = await proxy.listen()

const results = []
try {
  results.push(await measure('Lacquer', `${lacquerUrl}/page`))
  if (args['skip-varnish']) {
    results.push({ name: 'Varnish', skipped: '--skip-varnish' })
  } else if (!VARNISHD) {
    results.push({ name: 'Varnish', skipped: 'varnishd not found: apt-get install -y varnish' })
  } else {
    const varnish = await startVarnish()
    try { results.push(await measure(`Varnish (${VARNISHD})`, `${varnish.url}/page`)) } finally { await varnish.stop() }
  }
} finally {
  agent.destroy()
  await proxy.close()
  origin.close()
  origin.closeAllConnections()
}

console.log(`ESI page: ${INCLUDES} includes, each answering in ${DELAY_MS} ms, uncacheable; ${RUNS} sequential requests per target (after one warm-up)`)
console.log(`serial lower bound: ${INCLUDES * DELAY_MS} ms; parallel lower bound: ${DELAY_MS} ms; Lacquer target: < 80 ms`)
console.log('')
console.log('| target | median | p99 | min | max |')
console.log('| --- | --- | --- | --- | --- |')
for (const r of results) {
  if (r.skipped) console.log(`| ${r.name} | skipped: ${r.skipped} | | | |`)
  else console.log(`| ${r.name} | ${r.median.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.min.toFixed(1)} ms | ${r.max.toFixed(1)} ms |`)
}
console.log(`\norigin requests: ${originRequests}`)
if (args.json) writeFileSync(args.json, `${JSON.stringify({ includes: INCLUDES, delayMs: DELAY_MS, runs: RUNS, originRequests, results }, null, 2)}\n`)
