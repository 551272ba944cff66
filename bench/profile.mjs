#!/usr/bin/env node
// A CPU profile of Lacquer under wrk: the hit path (default, 1 KB hits) or the pass path.
//
//   npm run build && node bench/profile.mjs [--path /1k | /10k | /100k | /pass] [--duration 10]
//                                           [--connections 64] [--keep] [--unpinned]
//                                           [--server lacquer | node-http | naive]
//                                           [--access-log FILE | /dev/null] [--access-log-format json]
//
// Starts the bench origin and `lacquer serve` under `node --cpu-prof` (server and origin on
// core 0, wrk on core 1, as in `npm run bench`), warms the cache, loads it with wrk, stops
// Lacquer by its PID (the profile is written at exit) and prints where the time went: self
// time by area and by function, and inclusive time by Lacquer function, counting only the
// samples taken during the measured wrk run (not start-up nor warmup). `--server node-http`
// profiles the bare node:http ceiling the same way, `--server naive` the naive proxy: their
// profiles are the baseline that shows what Lacquer adds. The .cpuprofile
// (open it in Chrome DevTools → Performance, or speedscope) is kept in bench/results/.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const argv = process.argv.slice(2)
const flag = (name, fallback) => {
  const at = argv.indexOf(name)
  return at >= 0 ? argv[at + 1] : fallback
}
const urlPath = flag('--path', '/1k')
const durationS = Number(flag('--duration', '10'))
const connections = Number(flag('--connections', '64'))
const pinned = !argv.includes('--unpinned')
const keep = argv.includes('--keep')
const serverKind = flag('--server', 'lacquer')
// Lacquer's access log during the run (off by default), to see what it costs
const accessLog = flag('--access-log', undefined)
const accessLogFormat = flag('--access-log-format', undefined)
const accessLogFlags = [...(accessLog ? ['--access-log', accessLog] : []), ...(accessLogFormat ? ['--access-log-format', accessLogFormat] : [])]

if (!fs.existsSync(path.join(ROOT, 'dist/src/cli/main.js'))) {
  process.stderr.write('profile: run `npm run build` first\n')
  process.exit(2)
}

let lastWrk = ''
const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lacquer-profile-'))
const children = []
const pin = (core, argv) => (pinned ? ['taskset', '-c', String(core), ...argv] : argv)

function start(argv, logName) {
  const log = fs.openSync(path.join(tempDir, logName), 'a')
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', log] })
  fs.closeSync(log)
  children.push(child)
  return child
}

const freePort = () => new Promise((resolve) => {
  const server = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address()
    server.close(() => resolve(port))
  })
})

function wrk(url, seconds) {
  return new Promise((resolve, reject) => {
    const child = spawn(...(([c, ...a]) => [c, a])(pin(1, ['wrk', '-t', '1', '-c', String(connections), '-d', `${seconds}s`, '--latency', url])), { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (c) => { out += c })
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}`))))
  })
}

async function waitFor(url) {
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(url)
      await res.arrayBuffer()
      if (res.ok) return res
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`not ready: ${url}`)
}

async function main() {
  const origin = start([...pin(0, [process.execPath, path.join(ROOT, 'bench/servers.mjs'), 'origin'])], 'origin.log')
  const originPort = await new Promise((resolve) => {
    let out = ''
    origin.stdout.on('data', (c) => { out += c; const m = /listening (\d+)/.exec(out); if (m) resolve(Number(m[1])) })
  })
  const port = await freePort()
  const config = path.join(tempDir, 'lacquer.config.yaml')
  fs.writeFileSync(config, `origin: http://127.0.0.1:${originPort}\nrules:\n  - match: { path: /pass }\n    pass: true\n`)
  const profileDir = path.join(tempDir, 'prof')
  const profiling = [process.execPath, '--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-interval', '100']
  const lacquer = serverKind === 'lacquer'
    ? start(pin(0, [...profiling, path.join(ROOT, 'dist/src/cli/main.js'), 'serve', '--workers', '1', '--config', config, '--listen', `127.0.0.1:${port}`, '--no-admin', '--log-level', 'warn', ...accessLogFlags]), 'lacquer.log')
    : start(pin(0, [...profiling, path.join(ROOT, 'bench/servers.mjs'), serverKind, `http://127.0.0.1:${originPort}`]), 'server.log')
  const serverPort = serverKind === 'lacquer' ? port : await new Promise((resolve) => {
    let out = ''
    lacquer.stdout.on('data', (c) => { out += c; const m = /listening (\d+)/.exec(out); if (m) resolve(Number(m[1])) })
  })
  const url = `http://127.0.0.1:${serverPort}${urlPath}`
  const first = await waitFor(url)
  console.log(`profile: ${serverKind} ${url} (${pinned ? 'Lacquer and origin on core 0, wrk on core 1' : 'unpinned'}); cache-status: ${first.headers.get('cache-status')}`)
  await wrk(url, 2)
  const check = await fetch(url)
  await check.arrayBuffer()
  console.log(`profile: after warmup, cache-status: ${check.headers.get('cache-status')}`)
  // the profile's timestamps are CLOCK_MONOTONIC µs, as process.hrtime's ns are
  const windowUs = [Number(process.hrtime.bigint() / 1000n)]
  const out = await wrk(url, durationS)
  lastWrk = out
  windowUs.push(Number(process.hrtime.bigint() / 1000n))
  console.log(out.split('\n').filter((l) => /Requests\/sec|50%|99%/.test(l)).map((l) => `  wrk ${l.trim()}`).join('\n'))
  const exited = new Promise((resolve) => lacquer.once('exit', resolve))
  lacquer.kill('SIGTERM')
  await exited
  origin.kill('SIGTERM')
  const file = fs.readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'))
  const profilePath = path.join(profileDir, file)
  report(JSON.parse(fs.readFileSync(profilePath, 'utf8')), windowUs)
  const kept = path.join(ROOT, 'bench/results', `profile-${serverKind}-${urlPath.slice(1)}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`)
  fs.mkdirSync(path.dirname(kept), { recursive: true })
  fs.copyFileSync(profilePath, kept)
  console.log(`\nprofile: wrote ${path.relative(process.cwd(), kept)}`)
}

/** Which part of the stack a frame belongs to, for the summary by area. */
function areaOf(frame) {
  const { url, functionName } = frame
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC'
    if (functionName === '(idle)') return 'idle'
    if (functionName === '(program)') return 'V8/native (program)'
    return `native: ${functionName || '(anonymous)'}`
  }
  const lacquer = /\/dist\/src\/(.+)\.js$/.exec(url)
  if (lacquer) return `lacquer ${lacquer[1]}`
  if (url.includes('node_modules/undici')) return 'undici'
  if (url.includes('node_modules/')) return `dependency ${/node_modules\/([^/]+)/.exec(url)[1]}`
  if (url.startsWith('node:')) {
    const m = url.slice(5)
    if (/^_http_|^http$|internal\/http/.test(m)) return `node http (${m})`
    if (/^net$|stream_base|internal\/net|tcp_wrap/.test(m)) return `node net (${m})`
    if (/stream/.test(m)) return `node streams (${m})`
    if (/timers|process\/task_queues|async_hooks|events/.test(m)) return `node event loop (${m})`
    return `node ${m}`
  }
  return url
}

function report(profile, [fromUs, toUs]) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const deltas = profile.timeDeltas
  const weight = new Map() // node id → µs of samples
  const isWindowKnown = profile.startTime <= fromUs && toUs <= profile.endTime
  if (!isWindowKnown) console.log('\n(the run\'s window is not within the profile\'s clock: counting every sample)')
  let at = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    at += deltas[i]
    if (isWindowKnown && (at < fromUs || at > toUs)) continue
    const next = deltas[i + 1] ?? 0 // a sample's weight is the time until the next one
    weight.set(profile.samples[i], (weight.get(profile.samples[i]) ?? 0) + next)
  }
  let total = 0
  let idle = 0
  const selfByArea = new Map()
  const selfByFunction = new Map()
  const inclusive = new Map()
  const key = (f) => `${f.functionName || '(anonymous)'}  ${f.url ? `${f.url.replace(/^.*\/dist\//, 'dist/')}:${f.lineNumber + 1}` : ''}`
  for (const [id, us] of weight) {
    const frame = nodes.get(id).callFrame
    if (frame.functionName === '(idle)') { idle += us; continue }
    total += us
    const area = areaOf(frame)
    selfByArea.set(area, (selfByArea.get(area) ?? 0) + us)
    selfByFunction.set(key(frame), (selfByFunction.get(key(frame)) ?? 0) + us)
    const seen = new Set()
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const f = nodes.get(at).callFrame
      const k = f.url.includes('/dist/src/') || /^node:(_http_|net|internal\/http|internal\/streams)/.test(f.url) ? key(f) : undefined
      if (k && !seen.has(k)) { seen.add(k); inclusive.set(k, (inclusive.get(k) ?? 0) + us) }
    }
  }
  const pct = (us) => `${((us / total) * 100).toFixed(1).padStart(5)}%`
  const top = (map, n) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n)
  const requests = Number(/(\d+) requests in/.exec(lastWrk)?.[1])
  if (requests > 0) console.log(`\n${requests} requests: ${(total / requests).toFixed(1)} µs of busy JS/native main-thread time per request`)
  console.log(`busy ${(total / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s (percentages are of busy time)`)
  const group = (test) => [...selfByArea].filter(([area]) => test(area)).reduce((n, [, us]) => n + us, 0)
  const groups = [
    ['kernel send (writev/write syscalls)', (a) => /^native: (writev|writeLatin1String|writeBuffer|writeUtf8String)$/.test(a)],
    ['node http/net/streams/events (JS)', (a) => /^node (http|net|streams|event loop)/.test(a)],
    ['Lacquer (dist/src)', (a) => a.startsWith('lacquer ')],
    ['undici', (a) => a === 'undici' || a.startsWith('wasm')],
    ['GC', (a) => a === 'GC'],
  ]
  console.log('\nself time by group (µs per request):')
  let grouped = 0
  for (const [name, test] of groups) {
    const us = group(test)
    grouped += us
    console.log(`  ${pct(us)}  ${requests > 0 ? `${(us / requests).toFixed(1).padStart(5)} µs` : ''}  ${name}`)
  }
  console.log(`  ${pct(total - grouped)}  ${requests > 0 ? `${((total - grouped) / requests).toFixed(1).padStart(5)} µs` : ''}  everything else (V8, native, other node modules)`)
  console.log('\nself time by area:')
  for (const [area, us] of top(selfByArea, 25)) console.log(`  ${pct(us)}  ${area}`)
  console.log('\nself time by function (top 35):')
  for (const [name, us] of top(selfByFunction, 35)) console.log(`  ${pct(us)}  ${name}`)
  console.log('\ninclusive time, Lacquer and node http/net functions (top 45):')
  for (const [name, us] of top(inclusive, 45)) console.log(`  ${pct(us)}  ${name}`)
}

main().catch((err) => {
  process.stderr.write(`profile: ${err.stack ?? err}\n`)
  process.exitCode = 1
}).finally(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  if (!keep) fs.rmSync(tempDir, { recursive: true, force: true })
  else console.log(`profile: kept ${tempDir}`)
})
