#!/usr/bin/env node
// Instructions per request, counted by valgrind (callgrind): a figure that does not move when
// the box is busy. On this shared VM a req/s or CPU-time A/B spreads by ±5–15 % between runs
// (hypervisor steal, other sessions), more than the few percent a change is worth; the
// instructions a server executes for the same N requests are the same run after run (two runs
// of one variant: 54,476 and 54,191; serving thread 53,538 and 53,477), whatever runs beside
// it. Instructions are not time (a cache miss costs more than an add), so the wrk benchmarks
// (run.mjs, observe-overhead.mjs) stay the throughput figures; this one says what a change
// costs or saves, to about a percent.
//
//   npm run build && node bench/instructions.mjs [--variants NAMES] [--requests 10000]
//                                                [--warmup 100000] [--connections 16] [--json]
//
// Variants (comma-separated; default: the observability ones):
//   bare            Lacquer, 1 KB hits, metrics and live numbers off (LACQUER_BENCH_METRICS=off), no access log
//   metrics         Lacquer, 1 KB hits, metrics on (as in production), no access log
//   combined        metrics on, combined access log to a file
//   json            metrics on, JSON access log to a file
//   hit10k          metrics on, 10 KB hits
//   pass            metrics on, /pass (private, no-store; a pass rule): every request to the origin
//   node-http       the node:http ceiling (bench/servers.mjs node-http), 1 KB
//   naive           the naive proxy (bench/servers.mjs naive), /pass
//
// Each variant: the bench origin (bench/servers.mjs origin, not counted) and the server under
// `valgrind --tool=callgrind --separate-threads=yes`; W warm-up requests (the JIT settles, the
// object is stored), the counters zeroed (callgrind_control -z), exactly N requests over C
// keep-alive connections (each answer checked: status 200, the whole body, and for Lacquer's
// hits `Cache-Status: …; hit`), the counters dumped (callgrind_control -d). Instructions ÷ N,
// split into the serving thread and the others (V8's compiler and GC helpers, libuv's pool).
//
// Caveats, from running it: the JIT must have settled — with 20,000 warm-up requests V8 was
// still optimising (the other threads' count was as large as the serving thread's), 100,000
// are used by default; and even then a run may catch V8 re-optimising code it deoptimised
// (seen when two of these ran at once): a variant whose other threads exceed 5 % of its total
// is marked UNSETTLED and should be measured again. Instructions are not time: the log's
// byte loops are many cheap instructions, the hit's syscalls are kernel time callgrind does
// not count; use it to compare builds and variants, the wrk benchmarks for throughput.
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const argv = process.argv.slice(2)
const flag = (name, fallback) => {
  const at = argv.indexOf(name)
  return at >= 0 ? argv[at + 1] : fallback
}
const REQUESTS = Number(flag('--requests', '10000'))
const WARMUP = Number(flag('--warmup', '100000'))
const CONNECTIONS = Number(flag('--connections', '16'))
const asJson = argv.includes('--json')

const VARIANTS = {
  bare: { server: 'lacquer', path: '/1k', env: { LACQUER_BENCH_METRICS: 'off' } },
  metrics: { server: 'lacquer', path: '/1k' },
  combined: { server: 'lacquer', path: '/1k', log: 'combined' },
  json: { server: 'lacquer', path: '/1k', log: 'json' },
    hit10k: { server: 'lacquer', path: '/10k' },
  pass: { server: 'lacquer', path: '/pass' },
  'node-http': { server: 'node-http', path: '/1k' },
  naive: { server: 'naive', path: '/pass' },
}
const names = flag('--variants', 'bare,metrics,combined,json').split(',')
for (const name of names) if (!VARIANTS[name]) fail(`unknown variant ${name}; one of ${Object.keys(VARIANTS).join(', ')}`)
for (const [file, hint] of [['dist/src/cli/main.js', 'run `npm run build` first'], ['/usr/bin/valgrind', 'apt-get install -y valgrind'], ['/usr/bin/callgrind_control', 'apt-get install -y valgrind']]) {
  if (!fs.existsSync(path.isAbsolute(file) ? file : path.join(ROOT, file))) fail(`${file} is missing: ${hint}`)
}

function fail(message) {
  process.stderr.write(`instructions: ${message}\n`)
  process.exit(2)
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lacquer-instructions-'))
const children = new Set()
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
  if (!process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true })
})
process.on('SIGINT', () => process.exit(130))

/** Starts a process; resolves with it once its stdout matched `ready`. */
function start(cmd, args, env, ready, timeoutMs) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  children.add(child)
  child.on('exit', () => children.delete(child))
  let out = ''
  let err = ''
  child.stderr.on('data', (d) => { err += d })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start in ${timeoutMs} ms:\n${out}\n${err.slice(-2000)}`)), timeoutMs)
    child.stdout.on('data', (d) => {
      out += d
      const m = ready.exec(out)
      if (m) { clearTimeout(timer); resolve({ child, match: m }) }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${cmd} exited ${code}:\n${out}\n${err.slice(-2000)}`)) })
  })
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS })

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      let bytes = 0
      res.on('data', (c) => { bytes += c.length })
      res.on('end', () => resolve({ status: res.statusCode, bytes, cacheStatus: String(res.headers['cache-status'] ?? '') }))
      res.on('error', reject)
    }).on('error', reject)
  })
}

/** Exactly `n` requests, `CONNECTIONS` at a time; every answer checked. */
async function load(url, n, expectBytes, expectHit) {
  let next = 0
  const worker = async () => {
    while (next < n) {
      next++
      const res = await get(url)
      if (res.status !== 200 || res.bytes !== expectBytes) throw new Error(`${url}: ${res.status}, ${res.bytes} bytes (expected 200, ${expectBytes})`)
      if (expectHit && !/;\s*hit/.test(res.cacheStatus)) throw new Error(`${url}: not a hit: ${res.cacheStatus}`)
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS }, worker))
}

/** Total instructions (Ir) of a callgrind dump, per thread file. */
function instructionsOf(prefix) {
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(prefix))
  const threads = []
  for (const file of files) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8')
    const totals = /^(?:totals|summary):\s*(\d+)/m.exec(text)
    const thread = /^thread:\s*(\d+)/m.exec(text)
    if (totals) threads.push({ file, thread: Number(thread?.[1] ?? 1), ir: Number(totals[1]) })
  }
  return threads
}

const SIZES = { '/1k': 1024, '/10k': 10240, '/pass': 1024 }

async function measure(name) {
  const variant = VARIANTS[name]
  const { child: origin, match: om } = await start(process.execPath, [path.join(ROOT, 'bench/servers.mjs'), 'origin'], {}, /listening (\d+)/, 10_000)
  const originUrl = `http://127.0.0.1:${om[1]}`
  const prefix = `cg-${name}.`
  const valgrind = ['--tool=callgrind', '--separate-threads=yes', `--callgrind-out-file=${path.join(dir, `${prefix}%p`)}`]
  let server
  try {
    let url
    if (variant.server === 'lacquer') {
      const config = path.join(dir, `${name}.config.yaml`)
      const log = variant.log ? `accessLog: { format: ${variant.log}, output: ${JSON.stringify(path.join(dir, `${name}.log`))} }\n` : ''
      fs.writeFileSync(config, `origin: ${originUrl}\nrules:\n  - match: { path: /pass }\n    pass: true\n${log}`)
      const started = await start('valgrind', [...valgrind, process.execPath, path.join(ROOT, 'dist/src/cli/main.js'), 'serve', '--workers', '1', '--config', config,
        '--listen', '127.0.0.1:0', '--no-admin', '--log-level', 'warn'], variant.env ?? {}, /serving (http:\/\/\S+)/, 180_000)
      server = started.child
      url = started.match[1]
    } else {
      const started = await start('valgrind', [...valgrind, process.execPath, path.join(ROOT, 'bench/servers.mjs'), variant.server, originUrl], {}, /listening (\d+)/, 180_000)
      server = started.child
      url = `http://127.0.0.1:${started.match[1]}`
    }
    url += variant.path
    const isHit = variant.server === 'lacquer' && variant.path !== '/pass'
    const bytes = SIZES[variant.path]
    await load(url, 1, bytes, false)
    await load(url, WARMUP, bytes, isHit)
    execFileSync('callgrind_control', ['-z', String(server.pid)], { stdio: 'ignore' })
    const startedAt = Date.now()
    await load(url, REQUESTS, bytes, isHit)
    execFileSync('callgrind_control', ['-d', String(server.pid)], { stdio: 'ignore' })
    const wallMs = Date.now() - startedAt
    // the dump is written by each thread file; give callgrind a moment to finish writing
    await new Promise((r) => setTimeout(r, 500))
    const dumps = instructionsOf(prefix).filter((t) => t.file.includes(`.${server.pid}.`))
    const main = dumps.filter((t) => t.thread === 1).reduce((n, t) => n + t.ir, 0)
    const all = dumps.reduce((n, t) => n + t.ir, 0)
    return { name, requests: REQUESTS, perRequest: all / REQUESTS, servingThread: main / REQUESTS, otherThreads: (all - main) / REQUESTS, wallMs }
  } finally {
    if (server && server.exitCode === null) server.kill('SIGKILL')
    origin.kill('SIGTERM')
  }
}

const results = []
console.log(`instructions: ${REQUESTS} requests after ${WARMUP} warm-up, ${CONNECTIONS} keep-alive connections, under callgrind (${new Date().toISOString()})`)
for (const name of names) {
  const r = await measure(name)
  results.push(r)
  const unsettled = r.otherThreads > 0.05 * r.perRequest
  console.log(`  ${name.padEnd(18)} ${Math.round(r.perRequest).toLocaleString('en').padStart(9)} instructions/request (serving thread ${Math.round(r.servingThread).toLocaleString('en')}, others ${Math.round(r.otherThreads).toLocaleString('en')})${unsettled ? '  ← UNSETTLED: V8 was still (re)compiling in the other threads; re-run this variant (alone) before using it' : ''}`)
}
const by = Object.fromEntries(results.map((r) => [r.name, r]))
const pct = (a, b) => `${a >= b ? '+' : ''}${(((a / b) - 1) * 100).toFixed(1)} %`
const lines = []
if (by.bare && by.metrics) lines.push(`metrics: ${pct(by.metrics.perRequest, by.bare.perRequest)} instructions per hit (bare → metrics)`)
for (const log of ['combined', 'json']) {
  if (by[log] && by.metrics) lines.push(`${log} access log: ${pct(by[log].perRequest, by.metrics.perRequest)} per hit over metrics (serving thread ${pct(by[log].servingThread, by.metrics.servingThread)})`)
  if (by[log] && by.bare) lines.push(`metrics + ${log} access log: ${pct(by[log].perRequest, by.bare.perRequest)} per hit over nothing observed (serving thread ${pct(by[log].servingThread, by.bare.servingThread)})`)
}
if (by.metrics && by['node-http']) lines.push(`1 KB hit ÷ node:http ceiling: ${(by.metrics.perRequest / by['node-http'].perRequest).toFixed(2)}×`)
if (by.pass && by.naive) lines.push(`pass ÷ naive proxy: ${(by.pass.perRequest / by.naive.perRequest).toFixed(2)}×`)
if (lines.length) console.log(lines.map((l) => `  ${l}`).join('\n'))
if (asJson) {
  const file = path.join(ROOT, 'bench/results', `instructions-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), requests: REQUESTS, warmup: WARMUP, connections: CONNECTIONS, results }, null, 2))
  console.log(`instructions: wrote ${path.relative(process.cwd(), file)}`)
}
agent.destroy()
process.exit(0)
