#!/usr/bin/env node
// What the access log and the metrics cost per request, in-process, without HTTP: the numbers
// behind the design of observe/access-log.ts (see bench/README.md, observe-overhead.mjs).
//   - a line: AccessLogBatch.add (the line written as bytes: the hot path's part of the log) and
//     take (the batch handed over), combined and json, with and without a 100-character
//     User-Agent (wrk sends none; browsers do);
//   - worker hand-off: what moving the formatting to a worker_threads worker would cost before
//     any formatting: postMessage of the batch's string columns (structured clone) plus one
//     transferred Float64Array — on the main thread, and in total (main + worker's deserialising).
//     Measured and not adopted: it costs the serving thread about as much as formatting does;
//   - metrics: Observer.request on synthetic hits with counting on and off (no access log).
// Each figure is the minimum over many rounds (ns per request), the least disturbed by other
// processes; run it pinned (`taskset -c 0`) on a quiet machine.
//
//   npm run build && taskset -c 0 node bench/access-log-micro.mjs
import { Worker } from 'node:worker_threads'
import { AccessLogBatch } from '../dist/src/observe/access-log-batch.js'
import { Observer } from '../dist/src/observe/observer.js'

const N = 600
const ROUNDS = 2000
const AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
// flat one-byte strings, one per request, as node's HTTP parser makes them
const fresh = (s) => Buffer.from(s, 'latin1').toString('latin1')

function records(withAgent) {
  const now = Date.now()
  return Array.from({ length: N }, (_, i) => ({
    remote: fresh('127.0.0.1'), time: now + (i >> 4), method: 'GET', url: fresh('/1k'), httpVersion: '1.1', host: fresh('127.0.0.1:8080'), status: 200, bytes: 1024,
    referer: undefined, userAgent: withAgent ? fresh(AGENT) : undefined, state: 'hit', durationMs: 0.2 + i / 1e4, originMs: undefined, id: i,
  }))
}

/** min over rounds of (ns per request) of fn(), which handles N requests */
function minNs(fn, rounds = ROUNDS) {
  let min = Infinity
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint()
    fn()
    min = Math.min(min, Number(process.hrtime.bigint() - t0) / N)
  }
  return min
}

const row = (name, ns) => console.log(`  ${name.padEnd(58)} ${ns.toFixed(0).padStart(5)} ns/request`)

console.log(`access-log-micro: node ${process.version}, batches of ${N} requests, min of ${ROUNDS} rounds`)
for (const withAgent of [false, true]) {
  const rs = records(withAgent)
  const label = withAgent ? 'with a User-Agent' : 'no User-Agent'
  for (const format of ['combined', 'json']) {
    const batch = new AccessLogBatch(format)
    let min = Infinity
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = process.hrtime.bigint()
      for (const r of rs) batch.add(r.remote, r.time, r.method, r.url, r.httpVersion, r.host, r.status, r.bytes, r.referer, r.userAgent, r.state, r.durationMs, r.originMs, r.id)
      batch.take()
      min = Math.min(min, Number(process.hrtime.bigint() - t0) / N)
    }
    row(`a ${format} line (add, take), ${label}`, min)
  }
}

// the worker hand-off, without any formatting: what a worker would cost on top of it
for (const withAgent of [false, true]) {
  const rs = records(withAgent)
  const columns = ['remote', 'method', 'url', 'httpVersion', 'host', 'referer', 'userAgent', 'state'].map((k) => rs.map((r) => r[k]))
  const worker = new Worker(`const { parentPort } = require('node:worker_threads'); let n = 0
    parentPort.on('message', (m) => { n += m.columns[0].length; if (m.isLast) parentPort.postMessage(n) })`, { eval: true })
  const post = (isLast = false) => { const numbers = new Float64Array(N * 6); worker.postMessage({ columns, numbers, isLast }, [numbers.buffer]) }
  let min = Infinity
  for (let r = 0; r < 200; r++) {
    const t0 = process.hrtime.bigint()
    post()
    min = Math.min(min, Number(process.hrtime.bigint() - t0) / N)
    if (r % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 5))
  }
  const label = withAgent ? 'with a User-Agent' : 'no User-Agent'
  row(`worker hand-off, main thread, ${label}`, min)
  const cpu = process.cpuUsage()
  const batches = 400
  for (let r = 0; r < batches; r++) post()
  post(true)
  await new Promise((resolve) => worker.once('message', resolve))
  const used = process.cpuUsage(cpu)
  row(`worker hand-off, main + worker CPU (mean), ${label}`, ((used.user + used.system) * 1000) / ((batches + 1) * N))
  await worker.terminate()
}

// the metrics: Observer.request on synthetic hits, no access log
const hit = (i) => ({
  trace: ['recv', 'hash', 'lookup', 'hit', 'deliver', 'finish'], isStaleWhileRevalidate: false, serveStaleOnError: false, cacheStatus: { collapsed: false },
  startedAtHr: performance.now(), startedAt: Date.now(), sink: { status: 200, bytesSent: 1024 }, id: i, originMs: undefined,
  request: { host: '127.0.0.1:8080', path: '/1k', clientAddress: '127.0.0.1', method: 'GET', target: '/1k', httpVersion: '1.1', headers: [['host', '127.0.0.1:8080'], ['accept', '*/*']] },
})
const txs = Array.from({ length: N }, (_, i) => hit(i))
for (const isCounting of [true, false]) {
  const observer = new Observer(isCounting)
  row(`Observer.request, counting ${isCounting ? 'on' : 'off'} (no access log)`, minNs(() => { for (const tx of txs) observer.request(tx) }))
}
