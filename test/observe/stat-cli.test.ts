/**
 * o003: `lacquer stat` (the built binary) against a running Lacquer's admin port:
 * `--once --json` prints the snapshot (point, the last minute's URLs, store, history) with the
 * numbers /metrics and /stats have; `--once` prints the varnishstat-like screen with a row per
 * state; the live view prints a frame per second (non-TTY: one after another) until killed;
 * an unreachable or refusing admin port ends it with status 1 and the reason.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import http from 'node:http'
import { after, before, test } from 'node:test'
import { REQUEST_STATES } from '../../src/observe/metrics.js'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { request, startProxy, type TestProxy } from '../helpers/proxy.js'
import { runCli } from '../helpers/cli.js'

const children: ChildProcess[] = []
let origin: TestOrigin
let proxy: TestProxy
let admin: string

before(async () => {
  origin = await startOrigin({ '*': (req, res) => { res.writeHead(200, { 'cache-control': 'max-age=300' }); res.end(`page ${req.url}`) } })
  proxy = await startProxy({ origin: origin.url })
  admin = new URL(proxy.adminUrl).host
  for (const path of ['/a', '/b', '/a', '/a']) await request(`${proxy.url}${path}`)
})
after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await proxy?.close()
  await origin?.close()
})

function run(args: string[], env: Record<string, string> = {}) {
  return runCli(args, { env, children, killAfterMs: 15_000 })
}

async function metricTotals(): Promise<Record<string, number>> {
  const text = (await request(`${proxy.adminUrl}/metrics`)).body
  return Object.fromEntries([...text.matchAll(/^lacquer_requests_total\{state="(\w+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]))
}

test('stat --once --json: the snapshot, with the numbers of /metrics and /stats', async () => {
  // the history holds complete seconds: let the second of the warm-up end
  await sleep(1000 - (Date.now() % 1000) + 50)
  const cli = run(['stat', '--admin', admin, '--once', '--json'])
  assert.equal(await cli.exited, 0, cli.stderr)
  const snap = JSON.parse(cli.stdout)
  assert.deepEqual(Object.keys(snap).sort(), ['bansPending', 'history', 'origins', 'point', 'slowest', 'store', 'topMissed', 'totals'])
  // totals since start: the counters of /metrics
  assert.deepEqual(snap.totals, await metricTotals())
  assert.deepEqual(Object.keys(snap.point.requests), [...REQUEST_STATES])
  for (const key of ['t', 'total', 'hitRatio', 'p50', 'p95', 'p99', 'originRequests', 'originErrors']) assert.ok(key in snap.point, `point.${key}`)
  assert.equal(snap.history.length, 60)
  // the whole life of this Lacquer is within the minute: the history adds up to /metrics
  const totals: Record<string, number> = {}
  for (const p of snap.history) for (const state of REQUEST_STATES) totals[state] = (totals[state] ?? 0) + p.requests[state]
  assert.deepEqual(totals, await metricTotals())
  assert.equal(totals.hit, 2)
  assert.equal(totals.miss, 2)
  const stats = JSON.parse((await request(`${proxy.adminUrl}/stats`)).body)
  assert.deepEqual(snap.store, { objects: stats.store.objects, bytes: stats.store.bytes, maxBytes: stats.store.maxBytes, evictions: stats.store.evictions })
  assert.equal(snap.store.objects, 2)
  const host = new URL(proxy.url).host
  assert.deepEqual(snap.topMissed.map((r: any) => r.url).sort(), [`${host}/a`, `${host}/b`])
  assert.equal(snap.slowest.length, 4)
})

test('stat --once: the screen, a row per state with per-second and total columns', async () => {
  const cli = run(['stat', '--admin', admin, '--once'])
  assert.equal(await cli.exited, 0, cli.stderr)
  const out = cli.stdout
  assert.match(out, new RegExp(`^lacquer stat — ${admin.replace(/\./g, '\\.')} — \\d\\d:\\d\\d:\\d\\d UTC`))
  for (const state of REQUEST_STATES) assert.match(out, new RegExp(`^${state} +\\d+(\\.\\d)? +\\d+$`, 'm'), `a row for ${state}`)
  assert.match(out, /^all +\d+/m)
  assert.match(out, /^hit ratio /m)
  assert.match(out, /^latency ms +p50 [\d.]+ +p95 [\d.]+ +p99 [\d.]+/m)
  assert.match(out, /^store +2 objects +[\d.]+ KiB of 256\.0 MiB +0 evictions$/m)
  assert.match(out, /^most missed \(last minute\)$/m)
  assert.match(out, new RegExp(`^ +1 +${new URL(proxy.url).host.replace(/\./g, '\\.')}/a$`, 'm'))
  assert.doesNotMatch(out, /\x1b\[/, 'no terminal escapes when not on a terminal')
})

test('stat (live): a frame per second, one after another when stdout is not a terminal; counts the load; stops on SIGINT', async () => {
  const cli = run(['stat', '--admin', admin])
  let load = true
  let sent = 0
  const loader = (async () => {
    while (load) {
      await Promise.all(Array.from({ length: 5 }, () => request(`${proxy.url}/a`)))
      sent += 5
      await sleep(50)
    }
  })()
  const startedAt = Date.now()
  const frames = () => cli.stdout.split(/^(?=lacquer stat — )/m).filter((f) => f.startsWith('lacquer stat — '))
  // a frame per second; a loaded machine (CI, other tests) may delay the first one
  while (frames().length < 3 && Date.now() - startedAt < 8000) await sleep(50)
  load = false
  await loader
  const got = frames()
  assert.ok(got.length >= 2, `at least two frames within 8 s, got ${got.length}: ${cli.stdout}${cli.stderr}`)
  for (const frame of got.slice(0, -1)) assert.ok(frame.endsWith('\n\n'), 'frames separated by a blank line')
  const times = got.map((f) => /— (\d\d:\d\d:\d\d) UTC/.exec(f)![1])
  assert.equal(new Set(times).size, times.length, `one frame per second: ${times}`)
  // a hit row shows traffic in some frame; the total column (since the proxy started) grows
  // with the load and never passes what /metrics counted
  const hits = got.map((f) => /^hit +(\d+) +(\d+)$/m.exec(f)!.slice(1).map(Number))
  assert.ok(hits.some(([perSecond]) => perSecond! > 0), JSON.stringify(hits))
  for (let i = 1; i < hits.length; i++) assert.ok(hits[i]![1]! >= hits[i - 1]![1]!, `the total never goes down: ${JSON.stringify(hits)}`)
  assert.ok(hits[hits.length - 1]![1]! > hits[0]![1]!)
  assert.ok(hits[hits.length - 1]![1]! <= (await metricTotals()).hit!)
  assert.ok(sent > 0)
  cli.child.kill('SIGINT')
  assert.equal(await cli.exited, 0)
})

test('stat: an unreachable admin port ends with status 1 and says so', async () => {
  const blocked = http.createServer()
  await new Promise<void>((r) => blocked.listen(0, '127.0.0.1', r))
  const port = (blocked.address() as { port: number }).port
  await new Promise<void>((r) => blocked.close(() => r()))
  for (const args of [['--once', '--json'], ['--once'], []]) {
    const cli = run(['stat', '--admin', `127.0.0.1:${port}`, ...args])
    assert.equal(await cli.exited, 1, `stat ${args.join(' ')}`)
    assert.match(cli.stderr, new RegExp(`cannot reach the admin port at 127\\.0\\.0\\.1:${port}.*ECONNREFUSED`))
    assert.equal(cli.stdout, '')
  }
})

test('stat: outside trust.allow it is refused (status 1, the reason); the token lets it in', async () => {
  const TOKEN = 'stat-token-0123456789abcdef'
  const o = await startOrigin()
  const p = await startProxy({ origin: o.url, trust: { allow: ['10.0.0.0/8'], token: TOKEN } })
  const host = new URL(p.adminUrl).host
  try {
    const refused = run(['stat', '--admin', host, '--once', '--json'])
    assert.equal(await refused.exited, 1)
    assert.match(refused.stderr, /403/)
    const live = run(['stat', '--admin', host])
    assert.equal(await live.exited, 1)
    assert.match(live.stderr, /403.*trust\.allow/)
    const allowed = run(['stat', '--admin', host, '--once', '--json', '--token', TOKEN])
    assert.equal(await allowed.exited, 0, allowed.stderr)
    assert.ok(JSON.parse(allowed.stdout).point)
    const fromEnv = run(['stat', '--admin', host, '--once'], { LACQUER_TOKEN: TOKEN })
    assert.equal(await fromEnv.exited, 0, fromEnv.stderr)
    assert.match(fromEnv.stdout, /^hit /m)
  } finally {
    await p.close()
    await o.close()
  }
})
