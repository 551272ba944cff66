#!/usr/bin/env node
// Memory (issue 8): the store's per-object overhead and the process's RSS at 100,000 objects.
//
//   npm run bench:memory -- [--objects 100000] [--sizes 100,1024] [--concurrency 32]
//                           [--extra-fields 0] [--store-size 4gb] [--analyse] [--keep-snapshots]
//
// For each body size, a fresh `lacquer serve` (dist/src/cli/main.js, its own process, default
// config but the store: 4gb, never full, unless --store-size) runs in front of an origin in this
// process that serves /obj/N: N distinct cacheable objects with the fields an app typically
// sends (Date, Content-Type, Cache-Control, ETag, Last-Modified, Surrogate-Key; --extra-fields
// adds that many `x-field-I` with unique values, to measure what a field costs). Everything is
// on 127.0.0.1, free ports. The script:
//
//   1. warms Lacquer (2,000 objects stored, then purged by their tag: code paths and JIT warm,
//      the store empty again) and measures "before";
//   2. fills the store through real HTTP requests (bounded concurrency), checks every answer
//      and that GET /stats says the store holds exactly N objects (with --store-size, a store
//      that filled up: the figures are per object it holds), and measures "after";
//   3. stops Lacquer by its PID.
//
// A measurement reads the admin `/stats` (`memory`: node's process.memoryUsage() inside the
// server; `store`: the store's own accounting) and VmRSS from /proc/PID/status, once the heap
// has settled (heapUsed within 1 % over 3 s, at most 30 s); then again after a full GC:
// Lacquer runs with `--expose-gc --require bench/gc-on-signal.cjs` (bench only), and SIGUSR2
// makes it collect (with --analyse also write a heap snapshot). The heap figures after the GC
// hold no garbage; they are the ones the per-object figures use. --analyse summarises the two
// snapshots (before, after) by constructor: what each object costs, by kind (its "before"
// snapshot grows the RSS, so take RSS figures from a run without it).
//
// Per-object overhead = (memory after − memory before − body bytes) / objects, for the heap +
// external memory (Buffers live outside the V8 heap, in `external`) and for RSS.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const LACQUER_MAIN = path.join(ROOT, 'dist/src/cli/main.js')
const GC_PRELOAD = path.join(ROOT, 'bench/gc-on-signal.cjs')

const { values: args } = parseArgs({
  options: {
    objects: { type: 'string', default: '100000' },
    sizes: { type: 'string', default: '100,1024' },
    concurrency: { type: 'string', default: '32' },
    'extra-fields': { type: 'string', default: '0' },
    'store-size': { type: 'string' },
    analyse: { type: 'boolean', default: false },
    'keep-snapshots': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (args.help) {
  process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0].replace(/^\/\/ ?/gm, ''))
  process.exit(0)
}
const OBJECTS = Number(args.objects)
const SIZES = args.sizes.split(',').map(Number)
const CONCURRENCY = Number(args.concurrency)
/** more response fields per object, `x-field-I: <unique value>`: what one more field costs */
const EXTRA_FIELDS = Number(args['extra-fields'])
/** default: large enough never to evict; a smaller one (e.g. 256mb, Lacquer's default) shows a full store */
const STORE_SIZE = args['store-size'] ?? '4gb'
const WARM_OBJECTS = 2000
if (!fs.existsSync(LACQUER_MAIN)) fail('dist/ is missing: run `npm run build` first (npm run bench:memory does)')
if (!(OBJECTS > 0) || SIZES.some((s) => !(s > 0)) || !(CONCURRENCY > 0) || !(EXTRA_FIELDS >= 0)) fail('--objects, --sizes, --concurrency and --extra-fields take positive numbers')

function fail(message) {
  process.stderr.write(`bench/memory: ${message}\n`)
  process.exit(1)
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ---- the origin: /obj/N and /warm/N, each its own object ----------------------------------

const LAST_MODIFIED = new Date(Date.UTC(2026, 10, 1, 12)).toUTCString()

function makeBody(size) {
  const line = Buffer.from('lacquer-memory-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n')
  const body = Buffer.alloc(size)
  for (let at = 0; at < size; at += line.length) line.copy(body, at, 0, Math.min(line.length, size - at))
  return body
}

function startOrigin(body) {
  const server = http.createServer((req, res) => {
    const match = /^\/(obj|warm)\/(\d+)$/.exec(req.url ?? '')
    if (!match) { res.writeHead(404, { 'cache-control': 'no-store' }); res.end(); return }
    const [, kind, n] = match
    for (let i = 0; i < EXTRA_FIELDS; i++) res.setHeader(`x-field-${i}`, `value-${i}-${kind}-${n}`)
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': body.length,
      'cache-control': 'public, max-age=3600',
      etag: `"${kind}-${n}-${(Number(n) * 2654435761 >>> 0).toString(16)}"`,
      'last-modified': LAST_MODIFIED,
      'surrogate-key': `${kind} ${kind}-${n} list-${Number(n) % 100}`,
    })
    res.end(body)
  })
  server.keepAliveTimeout = 60_000
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

// ---- Lacquer: its own process, stopped by PID ---------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)) })
  })
}

let running

async function startLacquer(originUrl, dir) {
  const [port, adminPort] = [await freePort(), await freePort()]
  const nodeFlags = ['--expose-gc', '--require', GC_PRELOAD]
  const env = { ...process.env, ...(args.analyse && { LACQUER_BENCH_SNAPSHOT_DIR: dir }) }
  const log = fs.openSync(path.join(dir, 'lacquer.log'), 'a')
  // cwd: an empty temp dir, so no lacquer.config.* is picked up and snapshots are written there
  const child = spawn(process.execPath, [...nodeFlags, LACQUER_MAIN, 'serve', '--origin', originUrl,
    '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${adminPort}`, '--log-level', 'warn', '--store-size', STORE_SIZE],
  { cwd: dir, env, stdio: ['ignore', log, log] })
  fs.closeSync(log)
  const proc = { child, pid: child.pid, port, adminPort, dir, exited: false, gcCount: 0 }
  running = proc
  child.on('exit', () => { proc.exited = true })
  const deadline = Date.now() + 20_000
  for (;;) {
    if (proc.exited) throw new Error(`lacquer exited at start; see ${path.join(dir, 'lacquer.log')}`)
    try { if ((await get(adminPort, '/healthz')).status === 200) return proc } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error('lacquer did not start within 20 s')
    await sleep(100)
  }
}

async function stopLacquer() {
  const proc = running
  running = undefined
  if (!proc || proc.exited) return
  const exited = new Promise((resolve) => proc.child.once('exit', resolve))
  process.kill(proc.pid, 'SIGTERM')
  if (await Promise.race([exited.then(() => false), sleep(8000).then(() => true)])) { process.kill(proc.pid, 'SIGKILL'); await exited }
}

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => { stopLacquer().finally(() => process.exit(130)) })

// ---- HTTP client ---------------------------------------------------------------------------

/** keep-alive connections to Lacquer, `CONCURRENCY` at most; a new one per body size */
let agent

function get(port, urlPath) {
  return request({ port, path: urlPath, agent: false })
}

function request({ port, path: urlPath, method = 'GET', agent: a = agent, body, headers = {} }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, agent: a, headers, timeout: 30_000 }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`timeout: ${urlPath}`)))
    req.on('error', reject)
    req.end(body)
  })
}

/** GET prefix0 … prefix(count-1) through Lacquer, `CONCURRENCY` at a time; every answer checked. */
async function fill(port, prefix, count, bodySize) {
  let next = 0
  const worker = async () => {
    while (next < count) {
      const n = next++
      const res = await request({ port, path: `${prefix}${n}` })
      if (res.status !== 200 || res.body.length !== bodySize) throw new Error(`${prefix}${n}: status ${res.status}, ${res.body.length} bytes`)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
}

async function stats(adminPort) {
  const res = await get(adminPort, '/stats')
  if (res.status !== 200) throw new Error(`/stats answered ${res.status}`)
  return JSON.parse(res.body.toString())
}

function vmRssBytes(pid) {
  const kb = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Number(kb) * 1024
}

// ---- measuring -----------------------------------------------------------------------------

/** Waits until heapUsed moves less than 1 % over 3 s (30 s at most), then reads everything. */
async function settle(proc) {
  const samples = []
  for (let i = 0; i < 30; i++) {
    await sleep(1000)
    samples.push((await stats(proc.adminPort)).memory.heapUsedBytes)
    const last = samples.slice(-4)
    if (last.length === 4 && Math.max(...last) - Math.min(...last) < 0.01 * Math.max(...last)) break
  }
  const s = await stats(proc.adminPort)
  return { rssBytes: vmRssBytes(proc.pid), memory: s.memory, store: s.store, settledAfterS: samples.length }
}

/** SIGUSR2: a full GC in Lacquer (bench/gc-on-signal.cjs), with --analyse a heap snapshot; then /stats again. */
async function collectGarbage(proc) {
  const marker = path.join(proc.dir, `gc-${++proc.gcCount}.done`)
  process.kill(proc.pid, 'SIGUSR2')
  const deadline = Date.now() + 300_000
  while (!fs.existsSync(marker)) {
    if (Date.now() > deadline) throw new Error('no answer to SIGUSR2 after 5 min')
    await sleep(200)
  }
  await sleep(200) // the marker is written last, but give the heap a moment to shrink
  const s = await stats(proc.adminPort)
  return { rssBytes: vmRssBytes(proc.pid), memory: s.memory, snapshotFile: fs.readFileSync(marker, 'utf8') || undefined }
}

async function measure(proc) {
  const settled = await settle(proc)
  return { ...settled, afterGc: await collectGarbage(proc) }
}

async function runSize(bodySize, dir) {
  const body = makeBody(bodySize)
  agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  const origin = await startOrigin(body)
  const originUrl = `http://127.0.0.1:${origin.address().port}`
  const proc = await startLacquer(originUrl, dir)
  try {
    // warm: the miss, store and purge paths run, then the store is empty again
    await fill(proc.port, '/warm/', WARM_OBJECTS, bodySize)
    const purge = await request({ port: proc.adminPort, path: '/purge', method: 'POST', agent: false,
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tags: ['warm'] }) })
    if (purge.status !== 200) throw new Error(`purge of the warm-up objects: ${purge.status} ${purge.body}`)
    await fill(proc.port, '/warm/', 200, bodySize) // the purged keys again: misses, then drop them once more
    await request({ port: proc.adminPort, path: '/purge', method: 'POST', agent: false, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tags: ['warm'] }) })
    const emptyObjects = (await stats(proc.adminPort)).store.objects
    if (emptyObjects !== 0) throw new Error(`the store holds ${emptyObjects} objects after the warm-up purge`)
    const before = await measure(proc)

    const startedAt = Date.now()
    await fill(proc.port, '/obj/', OBJECTS, bodySize)
    const fillS = (Date.now() - startedAt) / 1000
    const filled = await stats(proc.adminPort)
    // a store given a size may fill and evict: the figures are then per object it holds
    const isFull = args['store-size'] !== undefined && filled.store.evictions > 0
    if (!isFull && (filled.store.objects !== OBJECTS || filled.store.evictions !== 0)) {
      throw new Error(`the store holds ${filled.store.objects} objects (${filled.store.evictions} evictions), expected ${OBJECTS}`)
    }
    const hit = await request({ port: proc.port, path: `/obj/${OBJECTS - 1}` })
    if (!/\bhit\b/.test(String(hit.headers['cache-status']))) throw new Error(`/obj/${OBJECTS - 1} is not a hit: ${hit.headers['cache-status']}`)
    const after = await measure(proc)
    return { bodySize, requested: OBJECTS, objects: filled.store.objects, evictions: filled.store.evictions, fillS, reqPerS: Math.round(OBJECTS / fillS), before, after, headerFields: hit.headers }
  } finally {
    await stopLacquer()
    agent.destroy()
    origin.closeAllConnections()
    origin.close()
  }
}

// ---- heap snapshot summary (--analyse) ------------------------------------------------------

/** Self size and count by constructor (node type + name), as DevTools' summary view. */
function summarise(file) {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8'))
  const meta = snap.snapshot.meta
  const fieldCount = meta.node_fields.length
  const typeAt = meta.node_fields.indexOf('type')
  const nameAt = meta.node_fields.indexOf('name')
  const sizeAt = meta.node_fields.indexOf('self_size')
  const types = meta.node_types[typeAt]
  const byName = new Map()
  const nodes = snap.nodes
  for (let i = 0; i < nodes.length; i += fieldCount) {
    const type = types[nodes[i + typeAt]]
    // strings by type, not by content; closures, arrays and objects by constructor name
    const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' || type === 'code' || type === 'hidden'
      ? `(${type})` : `${type}: ${snap.strings[nodes[i + nameAt]]}`
    const entry = byName.get(name) ?? { count: 0, bytes: 0 }
    entry.count++
    entry.bytes += nodes[i + sizeAt]
    byName.set(name, entry)
  }
  return byName
}

function analyse(result) {
  const before = summarise(result.before.afterGc.snapshotFile)
  const after = summarise(result.after.afterGc.snapshotFile)
  const rows = []
  for (const [name, a] of after) {
    const b = before.get(name) ?? { count: 0, bytes: 0 }
    rows.push({ name, count: a.count - b.count, bytes: a.bytes - b.bytes })
  }
  rows.sort((x, y) => y.bytes - x.bytes)
  const total = rows.reduce((n, r) => n + r.bytes, 0)
  return { perObjectHeapBytes: total / result.objects, top: rows.slice(0, 25).map((r) => ({ ...r, perObject: r.bytes / result.objects })) }
}

// ---- report --------------------------------------------------------------------------------

const MB = 1024 * 1024
const mb = (bytes) => `${(bytes / MB).toFixed(1)} MB`
const perObject = (bytes) => `${Math.round(bytes)} B`

function figures(r) {
  const bodyBytes = r.objects * r.bodySize
  const heapPlusExternal = (m) => m.heapUsedBytes + m.externalBytes
  const [b, a] = [r.before.afterGc, r.after.afterGc]
  const out = {
    rssPerObject: (r.after.rssBytes - r.before.rssBytes) / r.objects,
    rssOverhead: (r.after.rssBytes - r.before.rssBytes - bodyBytes) / r.objects,
    rssOverheadGc: (a.rssBytes - b.rssBytes - bodyBytes) / r.objects,
    heapPerObject: (a.memory.heapUsedBytes - b.memory.heapUsedBytes) / r.objects,
    externalPerObject: (a.memory.externalBytes - b.memory.externalBytes) / r.objects,
    heapExternalOverhead: (heapPlusExternal(a.memory) - heapPlusExternal(b.memory) - bodyBytes) / r.objects,
    storeCountedPerObject: r.after.store.bytes / r.objects,
    storeCountedOverhead: (r.after.store.bytes - bodyBytes) / r.objects,
  }
  // what one object really costs against what the store counts for it: how far a full store overshoots
  out.realOverCounted = (r.bodySize + out.heapExternalOverhead) / out.storeCountedPerObject
  return out
}

function printResult(r, f) {
  const { before: b, after: a } = r
  const row = (label, x, y, delta) => `| ${label} | ${x} | ${y} | ${delta} |`
  const lines = [
    `\n### ${r.objects.toLocaleString('en')} objects, ${r.bodySize} B bodies (${r.requested} requested in ${r.fillS.toFixed(1)} s, ${r.reqPerS}/s; `
      + `store ${STORE_SIZE}, ${r.evictions} evictions)\n`,
    '| | before (empty, warm) | after | per object |',
    '| --- | ---: | ---: | ---: |',
    row('RSS (VmRSS), settled', mb(b.rssBytes), mb(a.rssBytes), perObject(f.rssPerObject)),
    row('RSS after a full GC', mb(b.afterGc.rssBytes), mb(a.afterGc.rssBytes), perObject((a.afterGc.rssBytes - b.afterGc.rssBytes) / r.objects)),
    row('V8 heap used, settled', mb(b.memory.heapUsedBytes), mb(a.memory.heapUsedBytes), perObject((a.memory.heapUsedBytes - b.memory.heapUsedBytes) / r.objects)),
    row('V8 heap used after a full GC', mb(b.afterGc.memory.heapUsedBytes), mb(a.afterGc.memory.heapUsedBytes), perObject(f.heapPerObject)),
    row('external (of it arrayBuffers) after a full GC', `${mb(b.afterGc.memory.externalBytes)} (${mb(b.afterGc.memory.arrayBuffersBytes)})`,
      `${mb(a.afterGc.memory.externalBytes)} (${mb(a.afterGc.memory.arrayBuffersBytes)})`, perObject(f.externalPerObject)),
    row('store bytes (its own accounting)', mb(b.store.bytes), mb(a.store.bytes), perObject(f.storeCountedPerObject)),
    '',
    `- body bytes: ${r.bodySize} B × ${r.objects} = ${mb(r.objects * r.bodySize)}`,
    `- **per-object overhead** beyond the body: heap + external after a full GC **${perObject(f.heapExternalOverhead)}**; `
      + `RSS ${perObject(f.rssOverhead)} settled, ${perObject(f.rssOverheadGc)} after a full GC`,
    `- the store counts ${perObject(f.storeCountedPerObject)} per object (${perObject(f.storeCountedOverhead)} beyond the body); `
      + `body + heap/external overhead is ${f.realOverCounted.toFixed(2)}× that`,
  ]
  if (args.analyse) lines.push('- (--analyse: the "before" heap snapshot grew the RSS; read RSS from a run without it)')
  process.stdout.write(`${lines.join('\n')}\n`)
}

function printAnalysis(r, analysis) {
  const lines = [`\nheap snapshot, after − before, by constructor (${r.bodySize} B bodies): ${perObject(analysis.perObjectHeapBytes)} of V8 heap per object\n`,
    '| constructor | count | bytes | per object |', '| --- | ---: | ---: | ---: |']
  for (const t of analysis.top) lines.push(`| ${t.name} | ${t.count} | ${mb(t.bytes)} | ${perObject(t.perObject)} |`)
  process.stdout.write(`${lines.join('\n')}\n`)
}

const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lacquer-bench-memory-'))
const results = []
try {
  process.stdout.write(`bench/memory: ${OBJECTS} objects per body size (${SIZES.join(', ')} B), ${EXTRA_FIELDS} extra fields, ${CONCURRENCY} at a time; `
    + `load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; temp dir ${tempDir}\n`)
  for (const size of SIZES) {
    const dir = path.join(tempDir, String(size))
    fs.mkdirSync(dir)
    const result = await runSize(size, dir)
    const f = figures(result)
    printResult(result, f)
    const entry = { ...result, figures: f }
    if (args.analyse) {
      entry.analysis = analyse(result)
      printAnalysis(result, entry.analysis)
    }
    if (!args['keep-snapshots']) for (const m of [result.before, result.after]) if (m.afterGc.snapshotFile) fs.rmSync(m.afterGc.snapshotFile)
    results.push(entry)
  }
  fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true })
  const out = path.join(ROOT, 'bench/results', `memory-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  const options = { objects: OBJECTS, sizes: SIZES, concurrency: CONCURRENCY, extraFields: EXTRA_FIELDS, storeSize: STORE_SIZE }
  fs.writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), node: process.version, loadAverage: os.loadavg(), options, results }, null, 2))
  process.stdout.write(`\nload average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; JSON: ${path.relative(process.cwd(), out)}\n`)
} finally {
  await stopLacquer()
  if (!args['keep-snapshots']) fs.rmSync(tempDir, { recursive: true, force: true })
  else process.stdout.write(`snapshots kept in ${tempDir}\n`)
}
