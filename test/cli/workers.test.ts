/**
 * `lacquer serve --workers 2` (the built binary, real ports): both workers serve the listen
 * port (`Lacquer-Worker` beside `Lacquer-Trace` says which); each has its own store, so a purge
 * from the admin port, from `lacquer purge` or from `PURGE` on the proxy port must reach both,
 * and the receipt sums them; /metrics, /stats and `lacquer stat` add both up; per-user keys are
 * the same in both; a reload reaches both; a killed worker is replaced; SIGTERM drains and
 * exits 0; the stdout access log has one writer; a cold burst costs at most one origin request
 * per worker; a bad `--workers` is a CLI error; without `--workers` it is one process, and
 * `auto` is one per core.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, type TestResponse } from '../helpers/proxy.js'
import { admin, purge } from '../helpers/invalidation.js'
import { type CliRun, killAll, runCli } from '../helpers/cli.js'
import { useTempDirs } from '../helpers/temp-dirs.js'

const children: ChildProcess[] = []
const { dir } = useTempDirs('lacquer-workers-')
let origin: TestOrigin
after(async () => { killAll(children); await origin?.close() })

before(async () => {
  origin = await startOrigin({
    '/cold': async (req, res) => { await sleep(300); res.writeHead(200, { 'cache-control': 'max-age=60' }); res.end(`cold ${req.url}`) },
    '*': (req, res) => { res.writeHead(200, { 'cache-control': 'max-age=60', 'surrogate-key': `tag-${(req.url ?? '').split('/')[1]}` }); res.end(`page ${req.url}`) },
  })
})

interface Cluster { cli: CliRun; url: string; adminUrl: string; adminAddress: string }

/** Starts `serve --workers 2` on free ports; waits for its banner. */
async function startCluster(args: string[] = [], options: { bannerOn?: 'stdout' | 'stderr' } = {}): Promise<Cluster> {
  const cli = runCli(['serve', '--workers', '2', ...args], { children })
  const [, url, adminUrl] = await cli.waitFor(/serving (http:\/\/\S+) → \S+ \(admin (http:\/\/[^)\s]+)\)(?: with \S+)?, 2 workers\n/, options.bannerOn ?? 'stdout', 20_000)
  return { cli, url: url!, adminUrl: adminUrl!, adminAddress: adminUrl!.replace('http://', '') }
}

const flags = () => ['--origin', origin.url, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--log-level', 'warn']

/** A request on a new connection (the primary hands connections to the workers in turn), asking for the trace. */
const traced = (url: string, headers: Record<string, string> = {}) => request(url, { headers: { 'lacquer-debug': 'trace', ...headers } })
const workerOf = (res: TestResponse) => String(res.headers['lacquer-worker'])

/** Requests until each worker has answered `path` from its own store. */
async function storedInBoth(url: string, path: string, headers: Record<string, string> = {}): Promise<void> {
  const hitBy = new Set<string>()
  for (let i = 0; i < 40 && hitBy.size < 2; i++) {
    const res = await traced(`${url}${path}`, headers)
    if (isHit(res)) hitBy.add(workerOf(res))
  }
  assert.equal(hitBy.size, 2, `${path} stored in both workers (hits from ${[...hitBy]})`)
}

/** Requests until both workers have answered `path`: the first answer of each must not be a hit. */
async function missInBoth(url: string, path: string): Promise<void> {
  const seen = new Map<string, string>()
  for (let i = 0; i < 40 && seen.size < 2; i++) {
    const res = await traced(`${url}${path}`)
    if (!seen.has(workerOf(res))) seen.set(workerOf(res), cacheStatus(res))
  }
  assert.equal(seen.size, 2)
  for (const [worker, status] of seen) assert.doesNotMatch(status, /; hit/, `worker ${worker} still had ${path}: ${status}`)
}

async function stats(adminUrl: string): Promise<any> {
  return JSON.parse((await request(`${adminUrl}/stats`)).body)
}

async function metricTotals(adminUrl: string): Promise<Record<string, number>> {
  const text = (await request(`${adminUrl}/metrics`)).body
  return Object.fromEntries([...text.matchAll(/^lacquer_requests_total\{state="(\w+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]))
}

async function poll(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const until = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

describe('one cluster', () => {
  let c: Cluster
  before(async () => { c = await startCluster(flags()) })

  test('both workers serve the listen port, in turn; /stats lists each', async () => {
    const workers = new Set<string>()
    for (let i = 0; i < 4; i++) {
      const res = await traced(`${c.url}/turns`)
      assert.equal(res.status, 200)
      assert.match(String(res.headers['lacquer-trace']), /^\d+ recv /)
      workers.add(workerOf(res))
    }
    assert.deepEqual([...workers].sort(), ['1', '2'])
    // the worker is shown to trusted callers asking for the trace only
    assert.equal((await request(`${c.url}/turns`)).headers['lacquer-worker'], undefined)
    const s = await stats(c.adminUrl)
    assert.equal(s.workers.length, 2)
    assert.equal(new Set(s.workers.map((w: { pid: number }) => w.pid)).size, 2)
    assert.ok(!s.workers.some((w: { pid: number }) => w.pid === c.cli.child.pid), 'the primary serves no request')
    for (const w of s.workers) assert.ok(w.requests >= 2, JSON.stringify(s.workers))
    assert.equal(s.workerRestarts, 0)
    // store.size (256mb by default) is the bound of both stores together
    assert.equal(s.store.maxBytes, 256 * 1024 * 1024)
  })

  test('a purge on the admin port reaches both workers\' stores; the receipt sums them', async () => {
    await storedInBoth(c.url, '/p/admin')
    assert.equal(origin.count('/p/admin'), 2, 'one fetch per worker: each fills its own store')
    const { status, body } = await admin(c.adminUrl, 'POST', '/purge', { json: { urls: [`${c.url}/p/admin`] } })
    assert.equal(status, 200, JSON.stringify(body))
    assert.deepEqual(body.invalidated, { urls: 2, tags: 0, bans: 0 })
    await missInBoth(c.url, '/p/admin')
  })

  test('lacquer purge (URL, --tag, --prefix) against the cluster: every worker, the counts summed', async () => {
    await storedInBoth(c.url, '/p/cli')
    const url = runCli(['purge', '--admin', c.adminAddress, `${c.url}/p/cli`], { children })
    assert.equal(await url.exited, 0, url.stderr)
    assert.match(url.stdout, /hard purge: 2 entries invalidated \(urls 2, tags 0, bans 0\)/)
    await missInBoth(c.url, '/p/cli')

    await storedInBoth(c.url, '/tagged/1')
    const tag = runCli(['purge', '--admin', c.adminAddress, '--tag', 'tag-tagged', '--json'], { children })
    assert.equal(await tag.exited, 0, tag.stderr)
    assert.deepEqual(JSON.parse(tag.stdout).invalidated, { urls: 0, tags: 2, bans: 0 })
    await missInBoth(c.url, '/tagged/1')

    await storedInBoth(c.url, '/banned/1')
    const ban = runCli(['purge', '--admin', c.adminAddress, '--prefix', '/banned/', '--json'], { children })
    assert.equal(await ban.exited, 0, ban.stderr)
    const receipt = JSON.parse(ban.stdout)
    assert.equal(receipt.invalidated.bans, 2, ban.stdout)
    assert.equal(receipt.isComplete, true)
    assert.equal(receipt.bans[0].invalidated, 2)
    await missInBoth(c.url, '/banned/1')
    const bans = await admin(c.adminUrl, 'GET', '/bans')
    assert.equal(bans.status, 200)
    assert.ok(bans.body.sweeper.passes >= 2, JSON.stringify(bans.body))
  })

  test('PURGE on the proxy port, received by one worker, reaches the other too', async () => {
    await storedInBoth(c.url, '/p/method')
    const res = await purge(c.url, '/p/method')
    assert.equal(res.status, 200, res.body)
    assert.deepEqual(JSON.parse(res.body).invalidated, { urls: 2, tags: 0, bans: 0 })
    await missInBoth(c.url, '/p/method')
  })

  test('/metrics, /stats and lacquer stat add up both workers', async () => {
    const before = await metricTotals(c.adminUrl)
    for (let i = 0; i < 6; i++) await request(`${c.url}/counted/${i % 2}`)
    const totals = await metricTotals(c.adminUrl)
    const sum = (t: Record<string, number>) => Object.values(t).reduce((a, b) => a + b, 0)
    assert.equal(sum(totals) - sum(before), 6)
    const s = await stats(c.adminUrl)
    assert.equal(s.requests, sum(totals))
    assert.equal(s.requests, s.workers.reduce((n: number, w: { requests: number }) => n + w.requests, 0))
    assert.equal(s.purges, 5, 'each purge request counted once, not once per worker')
    const text = (await request(`${c.adminUrl}/metrics`)).body
    assert.match(text, new RegExp(`^lacquer_store_objects ${s.store.objects}$`, 'm'))
    assert.match(text, new RegExp(`^lacquer_store_max_bytes ${256 * 1024 * 1024}$`, 'm'))
    assert.match(text, new RegExp(`^lacquer_purges_total ${s.purges}$`, 'm'))
    assert.match(text, /^lacquer_origin_healthy\{origin="origin1"\} 1$/m)
    assert.match(text, /^lacquer_bans_pending 0$/m)
    const stat = runCli(['stat', '--admin', c.adminAddress, '--once', '--json'], { children })
    assert.equal(await stat.exited, 0, stat.stderr)
    const snapshot = JSON.parse(stat.stdout)
    assert.deepEqual(snapshot.totals, await metricTotals(c.adminUrl))
    assert.equal(snapshot.history.length, 60)
    assert.equal(snapshot.store.objects, s.store.objects)
    assert.deepEqual(snapshot.origins, [{ name: 'origin1', healthy: true }])
  })

  test('the live stream (/events) ticks with both workers\' numbers', async () => {
    // a request every 200 ms, so that each second has something to show
    const load = setInterval(() => { void request(`${c.url}/live`) }, 200)
    try {
      const frames = await new Promise<string>((resolve, reject) => {
        let text = ''
        const req = http.get(`${c.adminUrl}/events`, (res) => {
          res.setEncoding('utf8')
          res.on('data', (d: string) => {
            text += d
            if (/event: tick\ndata: .*\n\n/.test(text)) { req.destroy(); resolve(text) }
          })
        })
        req.on('error', reject)
        setTimeout(() => { req.destroy(); reject(new Error(`no tick in 5 s: ${text}`)) }, 5000).unref()
      })
      assert.match(frames, /^retry: 1000\nevent: history\ndata: \[/)
      const tick = JSON.parse(/event: tick\ndata: (.*)\n\n/.exec(frames)![1]!)
      assert.equal(tick.history, undefined)
      assert.ok(tick.totals.miss >= 1 && tick.totals.hit >= 1, JSON.stringify(tick.totals))
      assert.equal(tick.store.maxBytes, 256 * 1024 * 1024)
    } finally {
      clearInterval(load)
    }
  })

  test('a cold burst: each worker coalesces its own share, at most one origin request per worker', async () => {
    const answers = await Promise.all(Array.from({ length: 100 }, () => request(`${c.url}/cold`)))
    assert.ok(answers.every((r) => r.status === 200 && r.body === 'cold /cold'))
    const fetched = origin.count('/cold')
    assert.ok(fetched >= 1 && fetched <= 2, `${fetched} origin requests for 100 concurrent clients`)
    const states = answers.map((r) => cacheStatus(r))
    assert.equal(states.filter((s) => /collapsed/.test(s)).length, 100 - fetched, states.join('\n'))
  })

  test('a killed worker is replaced, with a log line; the new one serves', async () => {
    const [victim, survivor] = (await stats(c.adminUrl)).workers as Array<{ id: number; pid: number }>
    process.kill(victim!.pid, 'SIGKILL')
    await c.cli.waitFor(/"msg":"worker exited; starting a new one".*"signal":"SIGKILL"/, 'stderr', 10_000)
    await poll('a new worker', async () => {
      const s = await stats(c.adminUrl)
      return s.workers.length === 2 && s.workerRestarts === 1 && !s.workers.some((w: { pid: number }) => w.pid === victim!.pid)
    })
    const ids = new Set<string>()
    for (let i = 0; i < 4; i++) ids.add(workerOf(await traced(`${c.url}/after-restart`)))
    assert.deepEqual([...ids].sort(), [String(survivor!.id), '3'].sort())
    // the new worker is reached by purges too
    await storedInBoth(c.url, '/p/restarted')
    assert.deepEqual((await admin(c.adminUrl, 'POST', '/purge', { json: { urls: [`${c.url}/p/restarted`] } })).body.invalidated.urls, 2)
    await missInBoth(c.url, '/p/restarted')
  })

  test('SIGTERM drains and exits 0; no worker is left', async () => {
    const pids = (await stats(c.adminUrl)).workers.map((w: { pid: number }) => w.pid)
    c.cli.child.kill('SIGTERM')
    assert.equal(await c.cli.exited, 0, c.cli.stderr)
    for (const pid of pids) assert.equal(isAlive(pid), false, `worker ${pid} still running`)
  })
})

describe('with a config file', () => {
  const yaml = (rest = '') => `origin: ${origin.url}\nlisten: 127.0.0.1:0\nadmin: 127.0.0.1:0\nlogLevel: info\n`
    + `rules:\n  - name: account\n    match: { path: /account/** }\n    perUser: { cookie: session }\n    ttl: 5m\n${rest}`

  test('per-user keys are the same in both workers (one secret, made by the primary)', async () => {
    const d = dir({ 'lacquer.config.yaml': yaml() })
    const c = await startCluster(['--config', join(d, 'lacquer.config.yaml')])
    const keys = new Map<string, string>()
    for (let i = 0; i < 6 && keys.size < 2; i++) {
      const res = await traced(`${c.url}/account/me`, { cookie: 'session=alice' })
      keys.set(workerOf(res), String(res.headers['lacquer-key']))
    }
    assert.equal(keys.size, 2)
    const [one, two] = [...keys.values()]
    assert.match(one!, /user=(?!-)\S{16,}/, one)
    assert.equal(one, two)
    await storedInBoth(c.url, '/account/me', { cookie: 'session=alice' })
    assert.equal((await admin(c.adminUrl, 'POST', '/purge', { json: { urls: [`${c.url}/account/me`] } })).body.invalidated.urls, 2)

    // SIGHUP: the primary checks the file and every worker re-reads it
    writeFileSync(join(d, 'lacquer.config.yaml'), yaml('  - name: private\n    match: { path: /private/** }\n    pass: true\n'))
    c.cli.child.kill('SIGHUP')
    await c.cli.waitFor(/SIGHUP: config reloaded/, 'stderr')
    for (let i = 0; i < 4; i++) assert.match(cacheStatus(await request(`${c.url}/private/x`)), /detail=RULE-PASS/)
    // lacquer reload: a bad file is refused before any worker sees it
    writeFileSync(join(d, 'lacquer.config.yaml'), yaml('  - match: { path: /x }\n    ttl: 10x\n'))
    const refused = runCli(['reload', '--admin', c.adminAddress], { children })
    assert.equal(await refused.exited, 1)
    assert.match(JSON.parse(refused.stdout).error, /rules\[1\]\.ttl: "10x" — not a duration/)
    for (let i = 0; i < 4; i++) assert.match(cacheStatus(await request(`${c.url}/private/x`)), /detail=RULE-PASS/)
    assert.deepEqual((await stats(c.adminUrl)).rules, ['account', 'private'])
    c.cli.child.kill('SIGTERM')
    assert.equal(await c.cli.exited, 0)
  })

  test('a worker that dies young is started again after a growing delay, with the reason logged, until it can start', async () => {
    const d = dir({ 'lacquer.config.yaml': yaml() })
    const path = join(d, 'lacquer.config.yaml')
    const c = await startCluster(['--config', path])
    // an edit not yet reloaded is what a new worker reads: this one cannot start
    writeFileSync(path, yaml('  - match: { path: /x }\n    ttl: 10x\n'))
    const [victim] = (await stats(c.adminUrl)).workers as Array<{ pid: number }>
    process.kill(victim!.pid, 'SIGKILL')
    const [failed] = await c.cli.waitFor(/\{[^\n]*"msg":"worker exited; starting a new one"[^\n]*rules\[1\]\.ttl[^\n]*\}/, 'stderr', 10_000)
    assert.ok(JSON.parse(failed!).restartInMs >= 1000, failed)
    // the other worker serves meanwhile
    assert.equal((await request(`${c.url}/meanwhile`)).status, 200)
    writeFileSync(path, yaml())
    await poll('the worker back', async () => (await stats(c.adminUrl)).workers.length === 2, 20_000)
    assert.ok((await stats(c.adminUrl)).workerRestarts >= 2)
    c.cli.child.kill('SIGTERM')
    assert.equal(await c.cli.exited, 0)
  })

  test('workers: 1 in the file is one process; --workers wins over the file', async () => {
    const d = dir({ 'lacquer.config.yaml': `${yaml()}workers: 1\n` })
    const c = await startCluster(['--config', join(d, 'lacquer.config.yaml')])
    assert.equal((await stats(c.adminUrl)).workers.length, 2)
    c.cli.child.kill('SIGTERM')
    assert.equal(await c.cli.exited, 0)
    const one = runCli(['serve', '--config', join(d, 'lacquer.config.yaml')], { children })
    const [, url, adminUrl] = await one.waitFor(/serving (http:\/\/\S+) → \S+ \(admin (http:\/\/[^)\s]+)\) with \S+\n/)
    const res = await traced(`${url}/one`)
    assert.equal(res.headers['lacquer-worker'], undefined, 'no cluster: no worker')
    assert.equal((await stats(adminUrl!)).workers, undefined)
    one.child.kill('SIGTERM')
    assert.equal(await one.exited, 0)
  })
})

test('the access log on stdout: both workers\' lines, each whole, written by the primary', async () => {
  // with the access log on stdout, the banner goes to stderr
  const c = await startCluster([...flags(), '--access-log', 'stdout', '--access-log-format', 'json'], { bannerOn: 'stderr' })
  const N = 60
  await Promise.all(Array.from({ length: N }, (_, i) => request(`${c.url}/logged/${i % 3}`, { headers: { 'user-agent': `agent-${'x'.repeat(200)}` } })))
  await poll('every line', async () => c.cli.stdout.split('\n').filter(Boolean).length >= N, 5000)
  const lines = c.cli.stdout.split('\n').filter(Boolean)
  assert.equal(lines.length, N, c.cli.stdout)
  const records = lines.map((line) => JSON.parse(line))
  assert.ok(records.every((r) => r.method === 'GET' && r.status === 200 && /^\/logged\/\d$/.test(r.url)))
  c.cli.child.kill('SIGTERM')
  assert.equal(await c.cli.exited, 0)
})

test('a port in use stops every worker: named once, exit status 1', async () => {
  const blocker = net.createServer()
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
  const port = (blocker.address() as net.AddressInfo).port
  try {
    const cli = runCli(['serve', '--workers', '2', '--origin', origin.url, '--listen', `127.0.0.1:${port}`, '--no-admin'], { children })
    assert.equal(await cli.exited, 1)
    assert.equal(cli.stderr.match(/ERR_SERVER_LISTEN/g)?.length, 1, cli.stderr)
    assert.match(cli.stderr, new RegExp(`127\\.0\\.0\\.1:${port} is already in use`))
  } finally {
    blocker.close()
  }
})

test('--workers 0, -1, abc, 1.5: a CLI error with exit status 2; workers: 0 in a file is named by check-config', async () => {
  for (const value of ['0', '-1', 'abc', '1.5']) {
    const cli = runCli(['serve', '--workers', value, '--origin', origin.url, '--listen', '127.0.0.1:0', '--no-admin'], { children })
    assert.equal(await cli.exited, 2, `--workers ${value}: ${cli.stderr}`)
    assert.match(cli.stderr, new RegExp(`option '--workers <n>' argument '${value}' is invalid\\. give a whole number of processes from 1`))
  }
  const d = dir({ 'lacquer.config.yaml': `origin: ${origin.url}\nworkers: 0\n` })
  const check = runCli(['check-config', '--config', join(d, 'lacquer.config.yaml')], { children })
  assert.equal(await check.exited, 2)
  assert.match(check.stderr, /workers: 0 — must be ≥ 1/)
})

test('the default is one process, so that a second request on a new connection finds what the first stored; --workers auto and workers: auto start one per core', async () => {
  const one = runCli(['serve', '--origin', origin.url, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0'], { children })
  const [, url, adminUrl] = await one.waitFor(/serving (http:\/\/\S+) → \S+ \(admin (http:\/\/[^)\s]+)\)\n/)
  assert.equal((await stats(adminUrl!)).workers, undefined, 'no cluster by default')
  const first = await request(`${url}/default-one`)
  const second = await request(`${url}/default-one`)
  assert.ok(!isHit(first) && isHit(second), `${cacheStatus(first)} then ${cacheStatus(second)}`)
  one.child.kill('SIGTERM')
  assert.equal(await one.exited, 0)
  const cores = availableParallelism()
  const d = dir({ 'lacquer.config.yaml': `origin: ${origin.url}\nworkers: auto\n` })
  for (const args of [['--workers', 'auto', '--origin', origin.url], ['--config', join(d, 'lacquer.config.yaml')]]) {
    const cli = runCli(['serve', ...args, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0'], { children })
    const banner = cores > 1 ? new RegExp(`serving (http://\\S+) → \\S+ \\(admin (http://[^)\\s]+)\\)(?: with \\S+)?, ${cores} workers\\n`)
      : /serving (http:\/\/\S+) → \S+ \(admin (http:\/\/[^)\s]+)\)(?: with \S+)?\n/
    const [, , autoAdmin] = await cli.waitFor(banner, 'stdout', 20_000)
    assert.equal((await stats(autoAdmin!)).workers?.length, cores > 1 ? cores : undefined, args.join(' '))
    cli.child.kill('SIGTERM')
    assert.equal(await cli.exited, 0)
  }
})

test('store.maxObjectSize above a worker\'s share of store.size is refused at start, exit status 2', async () => {
  const cli = runCli(['serve', '--workers', '2', '--origin', origin.url, '--store-size', '8mb', '--max-object-size', '6mb', '--listen', '127.0.0.1:0', '--no-admin'], { children })
  assert.equal(await cli.exited, 2)
  assert.match(cli.stderr, /store\.maxObjectSize: "6mb" is more than each worker's share of store\.size \(8mb \/ 2 workers = 4194304 bytes\)/)
})
