#!/usr/bin/env node
/**
 * Spike benchmark: "a link from a giant portal's front page".
 *
 *   1. burst   — a cold popular page on a slow (200 ms) origin is hit by BURST (2,000)
 *                concurrent clients at once, each on its own new connection;
 *   2. outage  — a steady closed-loop load on cached pages (max-age=2, stale-if-error=60)
 *                while the origin process is killed (SIGKILL) for 10 s and then restarted.
 *
 * Run against Lacquer (`dist/src/cli/main.js serve`) and, side by side, Debian's Varnish
 * (`/usr/sbin/varnishd`, malloc store, grace 60 s, started here on a free port with a VCL file
 * written into a temp dir) and Debian's nginx (`proxy_cache` with `proxy_cache_lock`,
 * `proxy_cache_use_stale` and background updates, its config written into a temp dir). Origin, proxies and load generators are separate processes. It
 * reports origin requests, client success ratio, latency percentiles and stale answers.
 * It measures; it never asserts. Run `npm run build` first (or `npm run bench:spike`).
 *
 * Environment: SPIKE_PROXIES (lacquer,varnish,nginx), SPIKE_PARTS (burst,outage), BURST (2000), BURST_ROUNDS (3), STEADY_CLIENTS (50), PAGES (20), OUTAGE_MS (10000), COLD (1: the
 * burst is the proxy's first contact with the origin, no kept-alive connection yet), SPIKE_JSON (a
 * file for the raw figures), LACQUER_NODE_FLAGS (node flags for the Lacquer process, e.g.
 * --max-semi-space-size=32).
 */
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const SELF = fileURLToPath(import.meta.url)
const ORIGIN_DELAY_MS = 200
const MAX_AGE_S = 2
/** A whole number from the environment, at least `min`; anything else stops the script with the variable named. */
function envCount(name, fallback, min = 1) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min) {
    console.error(`spike: ${name}=${raw} must be a whole number of at least ${min}`)
    process.exit(2)
  }
  return n
}
/** A comma-separated list from the environment, each item one of `known`. */
function envList(name, known) {
  const items = (process.env[name] || known.join(',')).split(',').map((s) => s.trim()).filter(Boolean)
  const unknown = items.filter((item) => !known.includes(item))
  if (unknown.length || items.length === 0) {
    console.error(`spike: ${name}=${process.env[name]}: give one or more of ${known.join(', ')}`)
    process.exit(2)
  }
  return items
}
const BURST = envCount('BURST', 2000)
const STEADY_CLIENTS = envCount('STEADY_CLIENTS', 50)
const PAGES = envCount('PAGES', 20)
const WARM_MS = 4000
const OUTAGE_MS = envCount('OUTAGE_MS', 10_000, 100)
const AFTER_MS = 6000
const VARNISHD = '/usr/sbin/varnishd'
const NGINX = '/usr/sbin/nginx'
const PROXIES = envList('SPIKE_PROXIES', ['lacquer', 'varnish', 'nginx'])
const PARTS = envList('SPIKE_PARTS', ['burst', 'outage'])
const COLD = process.env.COLD === '1'
// COLD: only the proxy's first burst has no origin connection open, so one round
const BURST_ROUNDS = COLD ? 1 : envCount('BURST_ROUNDS', 3)


// ── origin process: every answer takes 200 ms; prints one line per request it receives ──────
function runOrigin(port) {
  const page = (title) => `<!doctype html><title>${title}</title>${'<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>'.repeat(150)}`
  const server = http.createServer((req, res) => {
    // the wall-clock instant (ms, fractional) lets the report say when the burst's request arrived
    process.stdout.write(`REQ ${req.url} ${(performance.timeOrigin + performance.now()).toFixed(1)}\n`)
    setTimeout(() => {
      const body = Buffer.from(page(req.url))
      const cacheControl = req.url.startsWith('/popular') ? 'max-age=60' : `max-age=${MAX_AGE_S}, stale-if-error=60`
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': body.length, 'cache-control': cacheControl })
      res.end(body)
    }, ORIGIN_DELAY_MS)
  })
  server.keepAliveTimeout = 30_000
  server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => process.stdout.write('READY\n'))
}

// ── burst process: N clients connect, then all send their request at the same moment ──────
// Raw sockets with a minimal HTTP/1.1 reader (Content-Length bodies): the load generator's own
// cost per request stays small, so what is measured is the proxy. Latency is from the write of
// the request to the last byte of the response; connecting is timed apart (`connectMs`). Like
// browsers, the clients keep their connections open after the answer (closed once all are in).
function runBurst(url, count) {
  const { hostname, port, pathname } = new URL(url)
  const request = Buffer.from(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUser-Agent: spike\r\n\r\n`)
  const results = []
  const sockets = []
  const connectStartedAt = performance.now()
  let connected = 0
  for (let i = 0; i < count; i++) {
    const socket = net.connect({ host: hostname, port: Number(port) })
    socket.setNoDelay(true)
    sockets.push(socket)
    socket.once('connect', () => { if (++connected === count) fire() })
    socket.on('error', () => { if (!socket.done) finish(socket, 0) })
  }
  let firedAt = 0
  let connectMs = 0
  function fire() {
    connectMs = performance.now() - connectStartedAt
    firedAt = performance.now()
    for (const socket of sockets) {
      let head = null
      let length = 0
      let received = 0
      let buffered = Buffer.alloc(0)
      socket.t0 = performance.now()
      socket.on('data', (chunk) => {
        if (!head) {
          buffered = Buffer.concat([buffered, chunk])
          const end = buffered.indexOf('\r\n\r\n')
          if (end < 0) return
          head = buffered.subarray(0, end).toString('latin1')
          length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
          received = buffered.length - end - 4
        } else {
          received += chunk.length
        }
        if (received >= length) finish(socket, Number(head.slice(9, 12)))
      })
      socket.write(request)
    }
  }
  function finish(socket, status) {
    socket.done = true
    results.push({ status, ms: performance.now() - (socket.t0 ?? connectStartedAt) })
    if (results.length === count) {
      const wallMs = performance.now() - firedAt
      for (const s of sockets) s.destroy()
      process.stdout.write(JSON.stringify({ firedAtEpoch: performance.timeOrigin + firedAt, connectMs, wallMs, results }), () => process.exit(0))
    }
  }
}

// ── steady process: closed loop, keep-alive, over the cached pages, for durationMs ────────────
function runSteady(base, clients, durationMs) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients })
  const records = []
  const until = Date.now() + durationMs
  let next = 0
  const one = () => new Promise((resolve) => {
    const path = `/page/${next++ % PAGES}`
    const at = Date.now()
    const t0 = performance.now()
    const req = http.get(`${base}${path}`, { agent }, (res) => {
      res.resume()
      res.on('end', () => {
        // nginx sends neither Age nor the origin's Date: its stale answers are told by X-Cache-Status alone
        const age = Number(res.headers.age ?? 0)
        const cs = String(res.headers['cache-status'] ?? '')
        const saysStale = (/fwd=stale/.test(cs) && /; hit/.test(cs)) || /^(STALE|UPDATING)$/.test(String(res.headers['x-cache-status'] ?? ''))
        records.push([at, performance.now() - t0, res.statusCode, age, saysStale ? 1 : 0])
        resolve()
      })
      res.on('error', () => { records.push([at, performance.now() - t0, 0, 0, 0]); resolve() })
    })
    req.on('error', () => { records.push([at, performance.now() - t0, 0, 0, 0]); resolve() })
  })
  const loop = async () => { while (Date.now() < until) await one() }
  Promise.all(Array.from({ length: clients }, loop)).then(() => {
    process.stdout.write(JSON.stringify(records), () => process.exit(0))
  })
}

// ── orchestration ─────────────────────────────────────────────────────────────────────────────
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) })
  })
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Starts a process of this script; resolves when it prints `ready` (or at once). */
const children = new Set()
/** Varnish and nginx: told to stop (SIGTERM), so that their own children go with them */
const daemons = new Set()
/** the daemons' temp dirs not yet removed */
const tempDirs = new Set()
process.on('exit', () => {
  for (const proc of children) if (proc.exitCode === null) proc.kill(daemons.has(proc) ? 'SIGTERM' : 'SIGKILL')
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

function child(args, ready) {
  const proc = spawn(process.execPath, [SELF, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.add(proc)
  let out = ''
  proc.stdout.on('data', (d) => { out += d })
  const exited = new Promise((resolve) => proc.on('exit', () => resolve(out)))
  const started = ready ? waitForText(() => out, ready, proc) : Promise.resolve()
  return { proc, exited, started, get out() { return out } }
}

async function waitForText(get, text, proc, ms = 15_000) {
  const until = Date.now() + ms
  while (!get().includes(text)) {
    if (proc.exitCode !== null || Date.now() > until) throw new Error(`no "${text}" from ${proc.spawnargs.join(' ')}`)
    await sleep(20)
  }
}

function get(url) {
  return new Promise((resolve) => {
    http.get(url, { agent: false }, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }))
    }).on('error', (err) => resolve({ status: 0, error: err.code }))
  })
}

/** An origin process on `port`, restartable; counts every request any of its lives received. */
function originOn(port) {
  let lives = []
  const start = async () => {
    const o = child(['origin', String(port)], 'READY')
    await o.started
    lives.push(o)
    return o
  }
  const lines = (prefix) => lives.flatMap((o) => o.out.split('\n').filter((l) => l.startsWith(`REQ ${prefix}`)))
  const requests = (prefix = '') => lines(prefix).length
  /** the wall-clock instant of the first request for `path` */
  const firstAt = (path) => Number(lines(path)[0]?.split(' ')[2])
  const kill = () => { const o = lives[lives.length - 1]; o.proc.kill('SIGKILL'); return o.exited }
  return { start, kill, requests, firstAt, stopAll: () => Promise.all(lives.map((o) => { if (o.proc.exitCode === null) o.proc.kill('SIGKILL'); return o.exited })) }
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

function latency(values) {
  const s = [...values].sort((a, b) => a - b)
  return { p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1] }
}

async function startLacquer(originPort) {
  const port = await freePort()
  const admin = await freePort()
  const nodeFlags = (process.env.LACQUER_NODE_FLAGS ?? '').split(' ').filter(Boolean)
  const proc = spawn(process.execPath, [...nodeFlags, 'dist/src/cli/main.js', 'serve', '--workers', '1', '--origin', `http://127.0.0.1:${originPort}`,
    '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${admin}`, '--log-level', 'error'], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.add(proc)
  let out = ''
  proc.stdout.on('data', (d) => { out += d })
  await waitForText(() => out, 'serving', proc)
  return { name: 'Lacquer', url: `http://127.0.0.1:${port}`, stop: () => { proc.kill('SIGTERM'); return new Promise((r) => proc.on('exit', r)) } }
}

async function startVarnish(originPort) {
  const dir = mkdtempSync(join(tmpdir(), 'lacquer-spike-varnish-'))
  // varnishd started as root drops to its own user, which must read the VCL
  chmodSync(dir, 0o755)
  const port = await freePort()
  const vcl = join(dir, 'spike.vcl')
  writeFileSync(vcl, `vcl 4.1;
backend default {
  .host = "127.0.0.1";
  .port = "${originPort}";
  .connect_timeout = 1s;
  .first_byte_timeout = 10s;
}
sub vcl_backend_response {
  # grace: serve a stale object for up to 60 s while one background fetch refreshes it
  set beresp.grace = 60s;
  set beresp.keep = 60s;
}
`)
  return startDaemon('Varnish', VARNISHD, ['-F', '-n', join(dir, 'n'), '-a', `127.0.0.1:${port}`, '-f', vcl, '-s', 'malloc,256m',
    '-p', 'thread_pool_min=200', '-p', 'listen_depth=4096'], dir, port)
}

/** Starts a proxy daemon whose files are in `dir`; resolves once it answers on `port`. Its stop also removes `dir`. */
async function startDaemon(name, command, args, dir, port) {
  tempDirs.add(dir)
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(proc)
  daemons.add(proc)
  let out = ''
  proc.stdout.on('data', (d) => { out += d })
  proc.stderr.on('data', (d) => { out += d })
  const until = Date.now() + 20_000
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${command} exited: ${out}`)
    if ((await get(`http://127.0.0.1:${port}/__ready`)).status) break
    if (Date.now() > until) throw new Error(`${command} did not answer: ${out}`)
    await sleep(100)
  }
  return {
    name, url: `http://127.0.0.1:${port}`,
    stop: async () => { proc.kill('SIGTERM'); await new Promise((r) => proc.on('exit', r)); rmSync(dir, { recursive: true, force: true }); tempDirs.delete(dir) },
  }
}

async function runScenario(start) {
  const originPort = await freePort()
  const origin = originOn(originPort)
  await origin.start()
  let proxy
  try {
    proxy = await start(originPort)
    // the site is live: the proxy has been serving other pages, so it holds a kept-alive origin
    // connection, as any proxy in front of a busy site does (COLD=1: the burst is its first contact)
    // 1. the burst on a cold URL, BURST_ROUNDS times (a new URL and new clients each time);
    // the round with the median p99 is reported, every round is kept
    const rounds = []
    for (let round = 1; PARTS.includes('burst') && round <= BURST_ROUNDS; round++) {
      if (!COLD) await get(`${proxy.url}/page/live`)
      const path = `/popular/${round}`
      const burst = JSON.parse(await child(['burst', `${proxy.url}${path}`, String(BURST)]).exited)
      const ok = burst.results.filter((r) => r.status === 200).length
      rounds.push({
        originRequests: origin.requests(path), clients: BURST, success: ok / BURST, wallMs: burst.wallMs, connectMs: burst.connectMs,
        originReachedAfterMs: origin.firstAt(path) - burst.firedAtEpoch,
        latency: latency(burst.results.map((r) => r.ms)),
      })
      await sleep(1000)
    }
    const byP99 = [...rounds].sort((a, b) => a.latency.p99 - b.latency.p99)
    const burstReport = rounds.length ? { ...byP99[Math.floor((byP99.length - 1) / 2)], rounds } : undefined
    if (!PARTS.includes('outage')) return { burst: burstReport }
    // 2. steady load on cached pages; the origin killed for OUTAGE_MS, then restarted
    for (let i = 0; i < PAGES; i++) await get(`${proxy.url}/page/${i}`)
    const beforeSteady = origin.requests('/page/')
    const steady = child(['steady', proxy.url, String(STEADY_CLIENTS), String(WARM_MS + OUTAGE_MS + AFTER_MS)])
    await sleep(WARM_MS)
    const killedAt = Date.now()
    await origin.kill()
    await sleep(OUTAGE_MS)
    await origin.start()
    const restartedAt = Date.now()
    const records = JSON.parse(await steady.exited)
    const during = records.filter(([at]) => at >= killedAt && at < restartedAt)
    const isStale = ([, , status, age]) => status === 200 && age > MAX_AGE_S
    const after = records.filter(([at]) => at >= restartedAt)
    // by when it was answered: a request under way at the restart may be the first fresh one
    const freshAt = after.filter((r) => r[2] === 200 && !isStale(r)).map((r) => r[0] + r[1]).sort((a, b) => a - b)[0]
    const staleLate = after.filter((r) => r[0] >= restartedAt + 2000 && isStale(r)).length
    const outageReport = {
      requests: records.length, errors: records.filter((r) => r[2] !== 200).length,
      duringOutage: during.length, errorsDuringOutage: during.filter((r) => r[2] !== 200).length,
      staleDuringOutage: during.filter(isStale).length,
      staleCacheStatus: during.filter((r) => r[4] === 1).length,
      latencyDuringOutage: latency(during.map((r) => r[1])),
      latencyAll: latency(records.map((r) => r[1])),
      originRequests: origin.requests('/page/') - beforeSteady,
      firstFreshAfterRestartMs: freshAt === undefined ? null : freshAt - restartedAt,
      staleAnswersMoreThan2sAfterRestart: staleLate,
    }
    return { burst: burstReport, outage: outageReport }
  } finally {
    await proxy?.stop()
    await origin.stopAll()
  }
}

function fmt(n, digits = 0) {
  return Number.isFinite(n) ? n.toFixed(digits) : '–'
}

function printSideBySide(results) {
  const names = Object.keys(results)
  const all = [
    ['burst: clients on one cold URL', (r) => String(r.burst.clients)],
    ['burst: latency p50 / p90 / p99 / max (ms)', (r) => `${fmt(r.burst.latency.p50)} / ${fmt(r.burst.latency.p90)} / ${fmt(r.burst.latency.p99)} / ${fmt(r.burst.latency.max)}`],
    [`burst: p99 of each of the ${BURST_ROUNDS} rounds (ms)`, (r) => r.burst.rounds.map((x) => fmt(x.latency.p99)).join(' / ')],
    ['burst: origin requests, each round', (r) => r.burst.rounds.map((x) => x.originRequests).join(' / ')],
    ['burst: client success, all rounds', (r) => `${fmt((r.burst.rounds.reduce((n, x) => n + x.success, 0) / r.burst.rounds.length) * 100, 2)} %`],
    ['burst: all answered after (ms)', (r) => fmt(r.burst.wallMs)],
    ['burst: its origin request arrived after (ms)', (r) => fmt(r.burst.originReachedAfterMs)],
    [`burst: opening the ${BURST} connections took (ms)`, (r) => fmt(r.burst.connectMs)],
    ['outage: requests (whole steady run)', (r) => String(r.outage.requests)],
    ['outage: client errors (whole run)', (r) => String(r.outage.errors)],
    [`outage: requests while the origin was down (${OUTAGE_MS / 1000} s)`, (r) => String(r.outage.duringOutage)],
    ['outage: errors while down', (r) => String(r.outage.errorsDuringOutage)],
    ['outage: stale answers while down (Age > max-age)', (r) => (r.sendsAge === false ? '– (sends no Age)' : String(r.outage.staleDuringOutage))],
    ['outage: saying so (Cache-Status fwd=stale; nginx X-Cache-Status)', (r) => (r.outage.staleCacheStatus ? String(r.outage.staleCacheStatus) : '– (not sent)')],
    ['outage: latency while down p50 / p99 / max (ms)', (r) => `${fmt(r.outage.latencyDuringOutage.p50, 1)} / ${fmt(r.outage.latencyDuringOutage.p99, 1)} / ${fmt(r.outage.latencyDuringOutage.max, 1)}`],
    ['outage: latency whole run p50 / p99 (ms)', (r) => `${fmt(r.outage.latencyAll.p50, 1)} / ${fmt(r.outage.latencyAll.p99, 1)}`],
    ['outage: origin requests for the pages', (r) => String(r.outage.originRequests)],
    ['outage: first fresh answer after restart (ms)', (r) => (r.sendsAge === false ? '– (sends no Age)' : fmt(r.outage.firstFreshAfterRestartMs))],
    ['outage: stale answers > 2 s after restart', (r) => (r.sendsAge === false ? '– (sends no Age)' : String(r.outage.staleAnswersMoreThan2sAfterRestart))],
  ]
  // only the parts that were run (SPIKE_PARTS)
  const rows = all.filter(([label]) => Object.values(results).some((r) => r[label.split(':')[0]] !== undefined))
  const width = Math.max(...rows.map(([label]) => label.length))
  const col = 30
  console.log(`\n${''.padEnd(width)}  ${names.map((n) => n.padEnd(col)).join('')}`)
  for (const [label, cell] of rows) console.log(`${label.padEnd(width)}  ${names.map((n) => cell(results[n]).padEnd(col)).join('')}`)
}

async function startNginx(originPort) {
  const dir = mkdtempSync(join(tmpdir(), 'lacquer-spike-nginx-'))
  // nginx started as root drops its workers to nobody, who must read and write here
  chmodSync(dir, 0o777)
  const port = await freePort()
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, `daemon off;
worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy_temp;
  fastcgi_temp_path ${dir}/fastcgi_temp;
  uwsgi_temp_path ${dir}/uwsgi_temp;
  scgi_temp_path ${dir}/scgi_temp;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=spike:10m max_size=256m inactive=10m use_temp_path=off;
  upstream origin { server 127.0.0.1:${originPort}; keepalive 32; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_connect_timeout 1s;
      proxy_cache spike;
      # one request to the origin per cold URL; the others wait for it (nginx re-checks every 500 ms)
      proxy_cache_lock on;
      proxy_cache_lock_timeout 10s;
      proxy_cache_lock_age 10s;
      # serve stale while the origin fails or while one background request refreshes it
      proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
      proxy_cache_background_update on;
      add_header X-Cache-Status $upstream_cache_status;
    }
  }
}
`)
  return startDaemon('nginx', NGINX, ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf], dir, port)
}

async function main() {
  if (!existsSync('dist/src/cli/main.js')) {
    console.error('spike: run `npm run build` first (or `npm run bench:spike`)')
    process.exit(1)
  }
  const nofile = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim())
  if (nofile < BURST + 500) console.warn(`spike: open-file limit ${nofile} is low for ${BURST} clients; raise it with \`ulimit -n 20000\``)
  const parts = []
  if (PARTS.includes('burst')) parts.push(`${BURST} concurrent clients on one cold URL (origin ${ORIGIN_DELAY_MS} ms${COLD ? ', no origin connection open yet' : ''}), ${BURST_ROUNDS} round(s)`)
  if (PARTS.includes('outage')) parts.push(`${STEADY_CLIENTS} steady clients on ${PAGES} cached pages (max-age=${MAX_AGE_S}, stale-if-error=60) with the origin killed for ${OUTAGE_MS / 1000} s`)
  console.log(`spike: ${parts.join(', then ')}; proxies: ${PROXIES.join(', ')}`)
  const results = {}
  const proxies = [
    { id: 'lacquer', name: 'Lacquer', start: startLacquer },
    { id: 'varnish', name: 'Varnish', start: startVarnish, binary: VARNISHD, apt: 'varnish' },
    { id: 'nginx', name: 'nginx', start: startNginx, binary: NGINX, apt: 'nginx' },
  ]
  for (const proxy of proxies.filter((p) => PROXIES.includes(p.id))) {
    if (proxy.binary && !existsSync(proxy.binary)) {
      console.log(`spike: ${proxy.binary} not found, ${proxy.name} skipped; install it with: sudo apt-get install -y ${proxy.apt}`)
      continue
    }
    results[proxy.name] = { ...(await runScenario(proxy.start)), ...(proxy.id === 'nginx' ? { sendsAge: false } : {}) }
    console.log(`${proxy.name} done`)
  }
  printSideBySide(results)
  if (process.env.SPIKE_JSON) writeFileSync(process.env.SPIKE_JSON, JSON.stringify(results, null, 2))
}

// the parent going away ends its children quietly
process.stdout.on('error', () => process.exit(0))
const role = process.argv[2] ?? 'main'
if (role === 'origin') runOrigin(Number(process.argv[3]))
else if (role === 'burst') runBurst(process.argv[3], Number(process.argv[4]))
else if (role === 'steady') runSteady(process.argv[3], Number(process.argv[4]), Number(process.argv[5]))
else {
  // Ctrl-C or the bench runner's SIGTERM: the 'exit' handler above ends every child it started
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130))
  await main()
}
