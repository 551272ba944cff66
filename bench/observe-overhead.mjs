#!/usr/bin/env node
// The cost of observability on cache-hit throughput:
//   (m) metrics and live numbers off (LACQUER_BENCH_METRICS=off, a switch for this benchmark
//       only, not a user feature), access log off: nothing observed;
//   (a) metrics on (as always in production), access log off;
//   (b) combined to a file, (c) json to a file, and (d) combined to /dev/null (the log's own
//       cost, without the disk's), all with metrics on.
// The metrics' cost is (a) against (m); the access log's is (b), (c), (d) against (a).
// Each run starts a fresh `lacquer serve` (pinned: taskset -c 0) in front of a small origin
// (this process, a 1 KB page, max-age=3600), warms it (one miss, then a 2 s wrk warm-up) and
// measures hits with wrk (taskset -c 1, 64 connections, 10 s). Variants are interleaved
// (the order rotating each round; `sync` between runs), 3 rounds; the median req/s of each is
// compared. Besides req/s: Lacquer's CPU time per request (user + system, all its threads, from
// /proc during the wrk run: steadier than req/s when something else runs), the 1-minute load
// average at each run, the share of CPU time the hypervisor gave other guests (steal; on a shared
// VM the largest source of noise), and how many access-log lines were written for the requests wrk made
// (the log drops lines when its output cannot keep up).
//
//   npm run build && node bench/observe-overhead.mjs [--rounds 3] [--duration 10] [--connections 64]
//                     [--alternate [--metrics-only | --log-only | --control] [--period MS] [--formats combined,json]]
//
// --alternate measures the same thing another way: one Lacquer per log format whose metrics and
// access log are switched off and on every second (LACQUER_BENCH_OBSERVE_TOGGLE_MS, a switch for
// benchmarks only), the CPU per hit of the on and off seconds compared within one process: no
// spread between separately started processes, which on this VM is larger than the overhead.
// Each "on" phase is also compared with the mean of the two "off" phases around it; the mean of
// those ratios over a run is given with its 95 % confidence interval (±1.96 standard errors),
// so that an overhead is told apart from the method's own noise (`--control` measures that noise).
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import http from 'node:http'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const ROUNDS = arg('rounds', 3)
const DURATION_S = arg('duration', 10)
const CONNECTIONS = arg('connections', 64)
// --period MS: how often --alternate switches (shorter: more on/off pairs, the VM's slow drifts averaged out)
const PERIOD_MS = arg('period', 1000)
const WARMUP_S = 2
const BIN = 'dist/src/cli/main.js'
const WRK = '/usr/bin/wrk'

for (const [path, hint] of [[BIN, 'run `npm run build` first'], [WRK, 'apt-get install -y wrk']]) {
  if (!existsSync(path)) { console.error(`observe-overhead: ${path} is missing: ${hint}`); process.exit(1) }
}
const hasTaskset = (() => { try { execFileSync('taskset', ['-V'], { stdio: 'ignore' }); return true } catch { return false } })()
const pinned = (cpu, cmd, args) => (hasTaskset && cpus().length > 1 ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args])

const PAGE = Buffer.alloc(1024, 'x')
const origin = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/html', 'content-length': PAGE.length, 'cache-control': 'max-age=3600' })
  res.end(PAGE)
})
await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve))
const originUrl = `http://127.0.0.1:${origin.address().port}`
const dir = mkdtempSync(join(tmpdir(), 'lacquer-bench-'))

const VARIANTS = {
  m: { name: 'metrics off, log off', flags: [], env: { LACQUER_BENCH_METRICS: 'off' } },
  a: { name: 'metrics on, log off', flags: [] },
  b: { name: 'combined → file', flags: (file) => ['--access-log', file] },
  c: { name: 'json → file', flags: (file) => ['--access-log', file, '--access-log-format', 'json'] },
  d: { name: 'combined → /dev/null', flags: ['--access-log', '/dev/null'] },
}

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode, cacheStatus: String(res.headers['cache-status'] ?? '') }))
    }).on('error', reject)
  })
}

async function startLacquer(key, run) {
  const file = join(dir, `${key}-${run}.log`)
  const flags = typeof VARIANTS[key].flags === 'function' ? VARIANTS[key].flags(file) : VARIANTS[key].flags
  const [cmd, args] = pinned(0, process.execPath, [BIN, 'serve', '--workers', '1', '--origin', originUrl, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--log-level', 'warn', ...flags])
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...VARIANTS[key].env } })
  let out = ''
  child.stdout.on('data', (d) => { out += d })
  const started = Date.now()
  while (!/serving (http:\/\/\S+)/.test(out)) {
    if (child.exitCode !== null || Date.now() - started > 10_000) throw new Error(`lacquer did not start: ${out}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  const url = /serving (http:\/\/\S+)/.exec(out)[1]
  return { child, url, file: flags.includes(file) ? file : undefined }
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.on('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

function wrk(url, seconds) {
  const [cmd, args] = pinned(1, WRK, ['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', `${url}/page`])
  const text = execFileSync(cmd, args, { encoding: 'utf8' })
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1])
  const requests = Number(/(\d+) requests in/.exec(text)?.[1])
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(text)?.[0]
  const p99 = /99%\s+(\S+)/.exec(text)?.[1]
  return { rps, requests, errors, p99 }
}

/** CPU seconds (user + system, all threads) a process has used so far. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  // after the command: state is field 3, utime 14 and stime 15 (clock ticks, 100 a second on Linux)
  return (Number(fields[11]) + Number(fields[12])) / 100
}
const hasProc = existsSync('/proc/self/stat')
/** Ticks all CPUs spent, and of them stolen by the hypervisor (for other guests), so far. */
function cpuTicks() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number)
  return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 }
}
const lineCount = (file) => (file && existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const uptime = () => { try { return execFileSync('uptime', { encoding: 'utf8' }).trim() } catch { return `load ${loadavg().map((x) => x.toFixed(2)).join(' ')}` } }

/** A ratio as a signed percentage, one decimal. */
const pct = (x) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`

/**
 * Each "on" phase's figure over the mean of the "off" phases just before and after it (the first
 * two phases are left out: the switch's own start): the ratios' count, mean and standard deviation.
 */
function pairedRatios(phases, figure) {
  const ratios = []
  for (let i = 3; i + 1 < phases.length; i++) {
    const [before, here, after] = [phases[i - 1], phases[i], phases[i + 1]]
    if (here.phase !== 'on' || before.phase !== 'off' || after.phase !== 'off' || !here.hits || !before.hits || !after.hits) continue
    ratios.push(figure(here) / ((figure(before) + figure(after)) / 2))
  }
  return stats(ratios)
}
function stats(xs) {
  const n = xs.length
  const mean = xs.reduce((a, b) => a + b, 0) / (n || 1)
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / Math.max(1, n - 1))
  return { n, mean, sd, xs }
}
const pool = (list) => stats(list.flatMap((s) => s.xs))
/** `+3.1 % ± 0.8 %`: the mean ratio's difference from 1 and its 95 % confidence interval (±1.96 standard errors). */
const interval = ({ n, mean, sd }) => `${pct(mean - 1)} ± ${((1.96 * sd * 100) / Math.sqrt(Math.max(1, n))).toFixed(1)} % (n = ${n})`

// --alternate: one Lacquer per format, observing switched off and on every second inside it
// (LACQUER_BENCH_OBSERVE_TOGGLE_MS, observe/bench-toggle.ts); the phases' CPU per hit compared
if (process.argv.includes('--alternate')) {
  await alternate()
  process.exit(0)
}

async function alternate() {
  const part = process.argv.includes('--metrics-only') ? 'metrics' : process.argv.includes('--log-only') ? 'log' : process.argv.includes('--control') ? 'none' : 'both'
  // --formats combined,json: the access log formats to run (--metrics-only: combined alone)
  const formatList = process.argv.includes('--metrics-only') ? ['combined'] : String(process.argv[process.argv.indexOf('--formats') + 1] && process.argv.includes('--formats') ? process.argv[process.argv.indexOf('--formats') + 1] : 'combined,json').split(',')
  const formats = Object.fromEntries(formatList.map((f) => [f, []]))
  console.log(`observe-overhead --alternate: ${part === 'both' ? 'metrics and access log (to a file)' : part === 'metrics' ? 'metrics (the access log on throughout)' : part === 'none' ? 'nothing (a control: both on throughout)' : 'the access log (to a file; metrics on throughout)'} switched off and on every ${PERIOD_MS} ms in one process, ${DURATION_S} s of wrk per run, ${ROUNDS} runs per format`)
  console.log(`  before: ${uptime()}`)
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const format of Object.keys(formats)) {
        const file = join(dir, `alternate-${format}-${round}.log`)
        const [cmd, args] = pinned(0, process.execPath, [BIN, 'serve', '--workers', '1', '--origin', originUrl, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--log-level', 'warn', '--access-log', file, '--access-log-format', format])
        const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LACQUER_BENCH_OBSERVE_TOGGLE_MS: String(PERIOD_MS), LACQUER_BENCH_OBSERVE_TOGGLE: part } })
        let out = ''
        let err = ''
        child.stdout.on('data', (d) => { out += d })
        child.stderr.on('data', (d) => { err += d })
        const started = Date.now()
        while (!/serving (http:\/\/\S+)/.test(out)) {
          if (child.exitCode !== null || Date.now() - started > 10_000) throw new Error(`lacquer did not start: ${out}${err}`)
          await new Promise((r) => setTimeout(r, 20))
        }
        const url = /serving (http:\/\/\S+)/.exec(out)[1]
        try {
          await get(`${url}/page`)
          wrk(url, WARMUP_S)
          child.kill('SIGUSR2') // the warm-up's sums, thrown away
          await new Promise((r) => setTimeout(r, 200))
          const from = err.length
          wrk(url, DURATION_S)
          child.kill('SIGUSR2')
          const until = Date.now() + 5000
          while (!err.slice(from).includes('observeToggle') && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
          const { observeToggle: t } = JSON.parse(err.slice(from).split('\n').find((l) => l.includes('observeToggle')))
          const perHit = (p) => p.cpuUs / p.hits
          const rate = (p) => (p.hits * 1000) / p.ms
          const result = { onUs: perHit(t.on), offUs: perHit(t.off), onRate: rate(t.on), offRate: rate(t.off), hits: t.on.hits + t.off.hits, cpu: pairedRatios(t.phases, perHit), rate: pairedRatios(t.phases, rate) }
          formats[format].push(result)
          console.log(`  round ${round} ${format.padEnd(8)}  off ${result.offUs.toFixed(2)} µs/hit ${result.offRate.toFixed(0)} hits/s · on ${result.onUs.toFixed(2)} µs/hit ${result.onRate.toFixed(0)} hits/s · CPU +${((result.onUs / result.offUs - 1) * 100).toFixed(1)} %, hits/s −${((1 - result.onRate / result.offRate) * 100).toFixed(1)} %`)
          console.log(`    phase by phase (${result.cpu.n} "on" phases, each against the "off" ones beside it): CPU per hit ${interval(result.cpu)}, hits/s ${interval(result.rate)}`)
        } finally {
          await stop(child)
          rmSync(file, { force: true })
          try { execFileSync('sync') } catch { /* best effort */ }
        }
      }
    }
  } finally {
    origin.close()
    rmSync(dir, { recursive: true, force: true })
  }
  console.log(`  after: ${uptime()}`)
  for (const [format, runs] of Object.entries(formats)) {
    const cpuOverhead = median(runs.map((r) => r.onUs / r.offUs - 1))
    const rateOverhead = median(runs.map((r) => 1 - r.onRate / r.offRate))
    console.log(`${part === 'both' ? `metrics + ${format} log to a file` : part === 'metrics' ? 'metrics' : part === 'none' ? `control (nothing switched, ${format} log on)` : `${format} log to a file`}, median of ${runs.length}: CPU per hit ${median(runs.map((r) => r.offUs)).toFixed(2)} → ${median(runs.map((r) => r.onUs)).toFixed(2)} µs (+${(cpuOverhead * 100).toFixed(1)} %), hits/s −${(rateOverhead * 100).toFixed(1)} %`)
    const pooled = (key) => pool(runs.map((r) => r[key]))
    console.log(`  phase by phase, all runs pooled: CPU per hit ${interval(pooled('cpu'))}, hits/s ${interval(pooled('rate'))}`)
  }
}

console.log(`observe-overhead: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}, ${hasTaskset ? 'taskset: lacquer on CPU 0, wrk on CPU 1' : 'no taskset: unpinned'}`)
console.log(`  ${ROUNDS} rounds × ${Object.keys(VARIANTS).length} variants, ${DURATION_S} s each, ${CONNECTIONS} connections, 1 KB hits`)
console.log(`  before: ${uptime()}`)
const results = Object.fromEntries(Object.keys(VARIANTS).map((k) => [k, []]))
try {
  for (let round = 1; round <= ROUNDS; round++) {
    // the order rotates each round, so that no variant always follows the same one
    const keys = Object.keys(VARIANTS)
    for (const key of [...keys.slice((round - 1) % keys.length), ...keys.slice(0, (round - 1) % keys.length)]) {
      const lacquer = await startLacquer(key, round)
      try {
        await get(`${lacquer.url}/page`)
        const check = await get(`${lacquer.url}/page`)
        if (!/; hit/.test(check.cacheStatus)) throw new Error(`not a hit: ${check.cacheStatus}`)
        wrk(lacquer.url, WARMUP_S)
        await new Promise((r) => setTimeout(r, 300))
        const before = lineCount(lacquer.file)
        const load = loadavg()[0]
        const cpuBefore = hasProc ? cpuSeconds(lacquer.child.pid) : NaN
        const ticksBefore = hasProc ? cpuTicks() : undefined
        const r = wrk(lacquer.url, DURATION_S)
        const cpuUs = hasProc ? ((cpuSeconds(lacquer.child.pid) - cpuBefore) * 1e6) / r.requests : NaN
        const ticksAfter = hasProc ? cpuTicks() : undefined
        const steal = ticksBefore ? (ticksAfter.steal - ticksBefore.steal) / (ticksAfter.total - ticksBefore.total) : NaN
        await new Promise((res) => setTimeout(res, 500))
        const lines = lineCount(lacquer.file) - before
        const size = lacquer.file && existsSync(lacquer.file) ? statSync(lacquer.file).size : 0
        results[key].push({ ...r, lines, cpuUs, load, steal })
        const logged = lacquer.file ? `, log lines ${lines} of ${r.requests} (${(100 * (1 - lines / r.requests)).toFixed(1)} % dropped, ${(size / 1e6).toFixed(0)} MB file)` : ''
        console.log(`  round ${round} ${key} ${VARIANTS[key].name.padEnd(22)} ${r.rps.toFixed(0).padStart(7)} req/s  ${cpuUs.toFixed(1)} µs CPU/req  load ${load.toFixed(2)}  steal ${(steal * 100).toFixed(1)} %  p99 ${r.p99}${r.errors ? `  ${r.errors}` : ''}${logged}`)
      } finally {
        await stop(lacquer.child)
        if (lacquer.file) rmSync(lacquer.file, { force: true })
        // flush what the run left in the page cache, so its write-back does not slow the next run
        try { execFileSync('sync') } catch { /* best effort */ }
      }
    }
  }
} finally {
  origin.close()
  rmSync(dir, { recursive: true, force: true })
}
console.log(`  after: ${uptime()}`)
// the metrics are compared with nothing observed (m), the access log with metrics alone (a)
const BASE = { m: undefined, a: 'm', b: 'a', c: 'a', d: 'a' }
const rps = (key) => median(results[key].map((r) => r.rps))
const cpu = (key) => median(results[key].map((r) => r.cpuUs))
console.log('\nvariant                       median req/s  (min–max)      overhead (req/s)  CPU µs/req  overhead (CPU)  vs   load (min–max)  steal max  log lines kept')
for (const key of Object.keys(VARIANTS)) {
  const runs = results[key]
  const base = BASE[key]
  const loads = runs.map((r) => r.load)
  const kept = runs[0]?.lines > 0 ? `${(100 * runs.reduce((n, r) => n + r.lines, 0) / runs.reduce((n, r) => n + r.requests, 0)).toFixed(1)} %` : ''
  const spread = `(${Math.min(...runs.map((r) => r.rps)).toFixed(0)}–${Math.max(...runs.map((r) => r.rps)).toFixed(0)})`
  const stealMax = `${(Math.max(...runs.map((r) => r.steal)) * 100).toFixed(1)} %`
  console.log(`(${key}) ${VARIANTS[key].name.padEnd(24)} ${rps(key).toFixed(0).padStart(12)}  ${spread.padEnd(13)}  ${(base ? pct(1 - rps(key) / rps(base)) : '—').padStart(16)}  ${cpu(key).toFixed(2).padStart(10)}  ${(base ? pct(cpu(key) / cpu(base) - 1) : '—').padStart(14)}  ${(base ? `(${base})` : '').padStart(3)}  ${`${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}`.padStart(14)}  ${stealMax.padStart(9)}  ${kept.padStart(14)}`)
}
console.log(`(m → b) everything on, combined log to a file: ${pct(1 - rps('b') / rps('m'))} req/s, ${pct(cpu('b') / cpu('m') - 1)} CPU per request`)
