/**
 * o006: the access log is written in batches, off the request's path, and loses nothing it
 * accepted: lines keep the requests' order across batches; a batch still pending when Lacquer
 * closes (`close()`, SIGTERM) is on disk before it ends; a pipe nobody reads gets at most its
 * bound queued and the rest dropped and counted (`lacquer_access_log_dropped_total`), requests
 * unharmed. And the benchmark switch `LACQUER_BENCH_METRICS=off` (bench/observe-overhead.mjs)
 * stops the counting, not the log.
 */
import assert from 'node:assert/strict'
import { type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { killAll, runCli } from '../helpers/cli.js'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { request, startProxy } from '../helpers/proxy.js'
import { useTempDirs } from '../helpers/temp-dirs.js'

const temp = useTempDirs('lacquer-access-batch-')
let origin: TestOrigin
const children: ChildProcess[] = []

before(async () => {
  origin = await startOrigin({
    '*': (req, res) => { res.writeHead(200, { 'cache-control': 'max-age=300', 'content-type': 'text/plain' }); res.end(`page ${req.url}`) },
  })
})
after(async () => {
  killAll(children)
  await origin?.close()
})

const linesOf = (text: string) => text.split('\n').filter((l) => l !== '')
/** The request paths of combined lines, in the file's order. */
const pathsOf = (text: string) => linesOf(text).map((l) => /"GET (\S+) HTTP/.exec(l)?.[1])

test('lines keep the order of the requests across batches, and close() writes the pending batch before it resolves', async () => {
  const file = join(temp.dir(), 'access.log')
  const proxy = await startProxy({ origin: origin.url, accessLog: { format: 'combined', output: file } })
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  // ~450 bytes a line: a batch (~64 KiB) holds ~150 requests, so 600 make several
  const headers = { 'user-agent': `order-test ${'a'.repeat(300)}` }
  const N = 600
  try {
    for (let i = 1; i <= N; i++) await request(`${proxy.url}/seq/${i}`, { agent, headers })
  } finally {
    agent.destroy()
    await proxy.close()
  }
  // read as soon as close() resolves: the last requests' batch was still waiting for its timer
  const paths = pathsOf(readFileSync(file, 'utf8'))
  assert.equal(paths.length, N, 'one line per request, none lost at close')
  assert.deepEqual(paths, Array.from({ length: N }, (_, i) => `/seq/${i + 1}`), 'in the order the requests were made')
})

test('SIGTERM with a batch pending: its lines reach the file before the process exits', async () => {
  const file = join(temp.dir(), 'access.log')
  const serve = runCli(['serve', '--workers', '1', '--origin', origin.url, '--listen', '127.0.0.1:0', '--no-admin', '--log-level', 'warn', '--access-log', file],
    { children, killAfterMs: 30_000 })
  const url = (await serve.waitFor(/serving (http:\/\/\S+)/))[1]!
  const N = 40
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  try {
    for (let i = 1; i <= N; i++) await request(`${url}/term/${i}`, { agent })
  } finally {
    agent.destroy()
  }
  serve.child.kill('SIGTERM')
  assert.equal(await serve.exited, 0, serve.stderr)
  assert.deepEqual(pathsOf(readFileSync(file, 'utf8')), Array.from({ length: N }, (_, i) => `/term/${i + 1}`))
})

// found in this work: at SIGTERM, lines handed to stdout were lost (the process exited before the
// pipe took them); close() now waits for them
test('a pipe nobody reads: lines beyond the 4 MiB queue are dropped and counted, requests are served; nothing accepted is lost', async () => {
  const serve = runCli(['serve', '--workers', '1', '--origin', origin.url, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--log-level', 'warn', '--access-log', '-'],
    { children, killAfterMs: 60_000 })
  const [, url, adminUrl] = await serve.waitFor(/serving (http:\/\/\S+) .*\(admin (http:\/\/[^\s)]+)\)/, 'stderr')
  // nobody reads the log from now on: the pipe (64 KiB) fills, then Lacquer's queue
  serve.child.stdout!.pause()
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })
  // ~4.2 KB a line: the 4 MiB queue holds ~1,000
  const headers = { 'user-agent': `pipe-test ${'b'.repeat(4096)}` }
  const N = 2000
  let started = 0
  const statuses: number[] = []
  try {
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (started < N) { started++; statuses.push((await request(`${url}/pipe`, { agent, headers })).status) }
    }))
  } finally {
    agent.destroy()
  }
  assert.equal(statuses.filter((s) => s === 200).length, N, 'every request answered while the log is stuck')
  const metrics = (await request(`${adminUrl}/metrics`)).body
  const dropped = Number(/^lacquer_access_log_dropped_total (\d+)$/m.exec(metrics)?.[1])
  assert.ok(dropped > 0 && dropped < N, `some lines dropped: ${dropped}`)
  // the reader comes back: what was queued arrives, and the rest was counted
  serve.child.stdout!.resume()
  serve.child.kill('SIGTERM')
  assert.equal(await serve.exited, 0, serve.stderr.slice(0, 2000))
  const lines = linesOf(serve.stdout)
  assert.ok(lines.every((l) => l.includes('"GET /pipe HTTP/1.1" 200 ')), 'whole lines only')
  assert.equal(lines.length + dropped, N, `${lines.length} written + ${dropped} dropped`)
  assert.ok(lines.length * 4200 > 4 << 20, `the queue held its bound (${lines.length} lines) before dropping`)
})

test('LACQUER_BENCH_METRICS=off (a benchmark switch): requests are not counted, and still logged', async () => {
  const file = join(temp.dir(), 'access.log')
  const serve = runCli(['serve', '--workers', '1', '--origin', origin.url, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--log-level', 'warn', '--access-log', file],
    { children, killAfterMs: 30_000, env: { LACQUER_BENCH_METRICS: 'off' } })
  const [, url, adminUrl] = await serve.waitFor(/serving (http:\/\/\S+) .*\(admin (http:\/\/[^\s)]+)\)/)
  await request(`${url}/off`)
  await request(`${url}/off`)
  const metrics = (await request(`${adminUrl}/metrics`)).body
  assert.match(metrics, /^lacquer_requests_total\{state="miss"\} 0$/m)
  assert.match(metrics, /^lacquer_requests_total\{state="hit"\} 0$/m)
  serve.child.kill('SIGTERM')
  assert.equal(await serve.exited, 0)
  assert.deepEqual(linesOf(readFileSync(file, 'utf8')).map((l) => /" 200 \d+ "-" "-" (\w+) /.exec(l)?.[1]), ['miss', 'hit'])
})
