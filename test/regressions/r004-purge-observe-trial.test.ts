/**
 * r004: what the new-user trial of purges and observability found (session 2), each with the
 * behaviour that answers it.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, renameSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { createProxy } from '../../src/index.js'
import { AccessLog } from '../../src/observe/access-log.js'
import { LacquerError } from '../../src/errors.js'
import { MemoryStore } from '../../src/store/memory-store.js'
import { Invalidator } from '../../src/invalidate/invalidator.js'
import { parseCacheControl } from '../../src/http-cache/cache-control.js'
import { computeFreshness } from '../../src/http-cache/freshness.js'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { isHit, request, startProxy, type TestProxy } from '../helpers/proxy.js'
import { useTempDirs } from '../helpers/temp-dirs.js'

/** access log files, removed when this file's tests end */
const temp = useTempDirs('lacquer-r004-')
import { admin, adminPurge, countingRoute } from '../helpers/invalidation.js'

const BIN = 'dist/src/cli/main.js'

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}
const TOKEN = 'a-long-enough-token-for-tests'

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
}

let origin: TestOrigin
let proxy: TestProxy
const adminAddress = () => proxy.adminUrl.replace('http://', '')

before(async () => {
  origin = await startOrigin({ '/p': countingRoute(), '/q': countingRoute() })
  proxy = await startProxy({ origin: origin.url, trust: { allow: ['127.0.0.0/8', '::1/128'], token: TOKEN } })
})
after(async () => { await proxy.close(); await origin.close() })

test('an access log path that cannot be opened is a config error at start, naming the key and the fix', () => {
  assert.throws(() => createProxy({ origin: origin.url, accessLog: { output: '/nonexistent-dir/a.log' } }),
    (err: Error) => err instanceof LacquerError && err.code === 'ERR_CONFIG_INVALID' && /accessLog\.output: "\/nonexistent-dir\/a\.log" cannot be opened .*ENOENT: its directory "\/nonexistent-dir" does not exist; create it.*give a writable file/.test(err.message))
  const dir = temp.dir()
  assert.throws(() => createProxy({ origin: origin.url, accessLog: { output: dir } }),
    (err: Error) => err instanceof LacquerError && /EISDIR: it is a directory; name a file in it/.test(err.message))
})

test('an access log whose output breaks later (a full disk) drops and counts lines; the proxy goes on', async () => {
  const errors: string[] = []
  const log = new AccessLog({ format: 'combined', output: '/dev/full' }, (m) => errors.push(m))
  const record = { remote: '127.0.0.1', time: Date.now(), method: 'GET', url: '/x', host: 'h', status: 200, bytes: 1, state: 'hit', durationMs: 1, id: 1 }
  log.write(record)
  await new Promise((resolve) => setTimeout(resolve, 100))
  for (let i = 0; i < 10; i++) log.write(record)
  assert.equal(log.dropped, 10)
  assert.equal(errors.length, 1)
  assert.match(errors[0]!, /cannot be written \(ENOSPC\).*reopened \(SIGHUP\)/)
  await log.close()
})

test('a slow output keeps lines queued instead of dropping them at the first "slow down"', async () => {
  const dir = temp.dir()
  const file = join(dir, 'access.log')
  const log = new AccessLog({ format: 'json', output: file })
  const record = { remote: '127.0.0.1', time: Date.now(), method: 'GET', url: `/${'x'.repeat(400)}`, host: 'h', status: 200, bytes: 1, state: 'hit', durationMs: 1, id: 1 }
  // 2000 lines of ~0.5 KB in one turn: far above the stream's 16 KiB high-water mark
  for (let i = 0; i < 2000; i++) log.write({ ...record, id: i })
  await new Promise((resolve) => setTimeout(resolve, 50))
  for (let i = 2000; i < 2100; i++) log.write({ ...record, id: i })
  await log.close()
  assert.equal(log.dropped, 0)
  assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 2100)
})

test('reopen() (SIGHUP) writes to a new file after logrotate moved the old one away', async () => {
  const dir = temp.dir()
  const file = join(dir, 'access.log')
  const log = new AccessLog({ format: 'json', output: file })
  const record = { remote: '127.0.0.1', time: Date.now(), method: 'GET', url: '/before', host: 'h', status: 200, bytes: 1, state: 'hit', durationMs: 1, id: 1 }
  log.write(record)
  log.flush()
  await new Promise((resolve) => setTimeout(resolve, 50))
  renameSync(file, `${file}.1`)
  log.reopen()
  log.write({ ...record, url: '/after', id: 2 })
  await log.close()
  assert.match(readFileSync(`${file}.1`, 'utf8'), /"url":"\/before"/)
  const fresh = readFileSync(file, 'utf8')
  assert.match(fresh, /"url":"\/after"/)
  assert.doesNotMatch(fresh, /before/)
})

test('reopen() (SIGHUP) when the path cannot be opened any more: an error naming the path, no crash, lines still written to the file opened before; a later reopen moves on', async () => {
  const dir = temp.dir()
  const logs = join(dir, 'logs')
  mkdirSync(logs)
  const file = join(logs, 'access.log')
  const errors: string[] = []
  const log = new AccessLog({ format: 'json', output: file }, (m) => errors.push(m))
  const record = { remote: '127.0.0.1', time: Date.now(), method: 'GET', url: '/before', host: 'h', status: 200, bytes: 1, state: 'hit', durationMs: 1, id: 1 }
  log.write(record)
  log.flush()
  await new Promise((resolve) => setTimeout(resolve, 50))
  // the directory moved away (logrotate's olddir, a cleanup job): the path is gone
  renameSync(logs, `${logs}.moved`)
  assert.doesNotThrow(() => log.reopen())
  assert.equal(errors.length, 1)
  assert.match(errors[0]!, /cannot be reopened: accessLog\.output: ".*access\.log" cannot be opened for appending \(ENOENT: its directory ".*logs" does not exist; create it\).*still go to the file opened before.*SIGHUP/)
  log.write({ ...record, url: '/during', id: 2 })
  log.flush()
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.match(readFileSync(join(`${logs}.moved`, 'access.log'), 'utf8'), /"url":"\/during"/)
  // the directory is back: the next reopen writes to the path again
  mkdirSync(logs)
  log.reopen()
  log.write({ ...record, url: '/after', id: 3 })
  await log.close()
  assert.equal(log.dropped, 0)
  assert.match(readFileSync(file, 'utf8'), /"url":"\/after"/)
  assert.doesNotMatch(readFileSync(join(`${logs}.moved`, 'access.log'), 'utf8'), /after/)
})

test('lacquer serve survives kill -HUP while its access log\'s directory is gone, and goes on serving and logging', async () => {
  const dir = temp.dir()
  const logs = join(dir, 'logs')
  mkdirSync(logs)
  const port = await freePort()
  const child = spawn(process.execPath, [BIN, 'serve', '--origin', origin.url, '--listen', `127.0.0.1:${port}`, '--no-admin', '--access-log', join(logs, 'access.log')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  let stdout = ''
  child.stderr.on('data', (d) => { stderr += d })
  child.stdout.on('data', (d) => { stdout += d })
  try {
    const url = `http://127.0.0.1:${port}`
    for (let i = 0; ; i++) {
      try { await request(`${url}/p`); break } catch (err) { if (i > 100) throw err; await new Promise((r) => setTimeout(r, 50)) }
    }
    renameSync(logs, `${logs}.moved`)
    child.kill('SIGHUP')
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(child.exitCode, null, `lacquer died: ${stderr}`)
    const res = await request(`${url}/p`)
    assert.equal(res.status, 200)
    assert.match(stdout + stderr, /cannot be reopened.*ENOENT/)
    await new Promise((resolve) => setTimeout(resolve, 100))
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)))
  }
  const lines = readFileSync(join(`${logs}.moved`, 'access.log'), 'utf8').trim().split('\n')
  assert.equal(lines.length, 2, `the request before the HUP and the one after, each logged once to the file still open:\n${lines.join('\n')}`)
})

test('Lacquer\'s own bearer token is never forwarded to the origin, and does not stop caching', async () => {
  const before = origin.received.length
  const res = await request(`${proxy.url}/p`, { headers: { authorization: `Bearer ${TOKEN}`, 'lacquer-debug': 'trace' } })
  assert.equal(res.status, 200)
  assert.ok(res.headers['lacquer-trace'], 'the token made the caller trusted')
  const seen = origin.received.slice(before)
  assert.equal(seen.length, 1)
  assert.equal(seen[0]!.headers.authorization, undefined)
  assert.ok(isHit(await request(`${proxy.url}/p`)), 'stored as usual')
})

test('a client\'s Forwarded header is replaced by one made from the key, never passed on', async () => {
  const before = origin.received.length
  await request(`${proxy.url}/q?f=1`, { headers: { forwarded: 'for=1.2.3.4;host=evil.example;proto=https' } })
  const seen = origin.received.slice(before)[0]!
  assert.doesNotMatch(String(seen.headers.forwarded), /evil|1\.2\.3\.4|proto=https/)
  assert.match(String(seen.headers.forwarded), /^for=127\.0\.0\.1;host="127\.0\.0\.1:\d+";proto=http$/)
})

test('the admin port refuses cross-site requests and purges that are not JSON', async () => {
  const crossSite = await admin(proxy.adminUrl, 'POST', '/purge', { json: { prefixes: ['/'] }, headers: { origin: 'http://evil.example' } })
  assert.equal(crossSite.status, 403, crossSite.text)
  assert.match(crossSite.text, /cross-site/)
  const fetchSite = await admin(proxy.adminUrl, 'POST', '/reload', { headers: { 'sec-fetch-site': 'cross-site' } })
  assert.equal(fetchSite.status, 403)
  const textPlain = await admin(proxy.adminUrl, 'POST', '/purge', { raw: '{"prefixes":["/"]}', headers: { 'content-type': 'text/plain' } })
  assert.equal(textPlain.status, 415, textPlain.text)
  const sameOrigin = await admin(proxy.adminUrl, 'POST', '/purge', { json: { tags: ['nothing'] }, headers: { origin: proxy.adminUrl } })
  assert.equal(sameOrigin.status, 200, sameOrigin.text)
})

test('bans of one request each have their own id', async () => {
  const res = await adminPurge(proxy.adminUrl, { prefixes: ['/a/', '/b/', '/c/'], wait: true })
  assert.equal(res.status, 200, res.text)
  const ids = res.body.bans.map((b: { id: number }) => b.id)
  assert.equal(new Set(ids).size, 3, JSON.stringify(ids))
})

test('a malformed request and an unknown method are counted in /metrics; BAN is a 501', async () => {
  const answer = await new Promise<string>((resolve) => {
    const port = Number(new URL(proxy.url).port)
    const socket = net.connect(port, '127.0.0.1', () => socket.write('BAN / HTTP/1.1\r\nHost: x\r\n\r\n'))
    let text = ''
    socket.on('data', (d) => { text += d })
    socket.on('close', () => resolve(text))
  })
  assert.match(answer, /^HTTP\/1\.1 501 /)
  const metrics = await admin(proxy.adminUrl, 'GET', '/metrics')
  assert.match(metrics.text, /lacquer_responses_total\{code="501"\} 1/)
})

test('lacquer purge: --host with a URL or a tag is refused (it would ban the whole site)', async () => {
  const withUrl = await run(['purge', '--admin', adminAddress(), '--host', '127.0.0.1', `${proxy.url}/p`])
  assert.equal(withUrl.code, 2)
  assert.match(withUrl.stderr, /--host limits --prefix and --regex/)
  const withTag = await run(['purge', '--admin', adminAddress(), '--host', '127.0.0.1', '--tag', 't'])
  assert.equal(withTag.code, 2)
})

test('lacquer purge/stat: --admin as http://HOST:PORT works; the proxy port and a missing port are named', async () => {
  const ok = await run(['purge', '--admin', proxy.adminUrl, '--tag', 'nothing'])
  assert.equal(ok.code, 0, ok.stderr)
  const proxyPort = await run(['purge', '--admin', proxy.url.replace('http://', ''), '--tag', 'x'])
  assert.equal(proxyPort.code, 1)
  assert.match(proxyPort.stderr, /is not a Lacquer admin port .*through the proxy/)
  const noPort = await run(['stat', '--once', '--admin', 'localhost'])
  assert.equal(noPort.code, 2)
  assert.match(noPort.stderr, /is not HOST:PORT/)
})

test('lacquer stat --once: totals count since the proxy started; no "Ctrl-C" in one-shot output', async () => {
  await request(`${proxy.url}/p`)
  const res = await run(['stat', '--once', '--admin', adminAddress()])
  assert.equal(res.code, 0, res.stderr)
  assert.doesNotMatch(res.stdout, /Ctrl-C/)
  const hitLine = res.stdout.split('\n').find((l) => l.startsWith('hit'))!
  assert.ok(Number(hitLine.trim().split(/\s+/).pop()) >= 1, hitLine)
})

test('the ban sweeper yields to other work while a thousand bans test each object', async () => {
  const store = new MemoryStore({ maxBytes: 256 << 20, maxObjectBytes: 1 << 20 })
  const invalidator = new Invalidator(store, () => {}, { maxBans: 5000, sweepIntervalMs: 60_000 })
  const now = Date.now()
  const cc = parseCacheControl(['max-age=60'])
  for (let i = 0; i < 3000; i++) {
    const headers: [string, string][] = [['cache-control', 'max-age=60']]
    const writer = store.openWrite({
      key: `http://a/p/${i}`, status: 200, statusText: 'OK', headers, varyNames: [], varyValues: [], cc, isTargeted: false,
      freshness: computeFreshness(200, headers, cc, false, now, now), deleteAt: now + 60_000, tags: [],
    })!
    writer.write(Buffer.from('x'))
    await writer.end()
  }
  let timerRanDuringSweep = false
  let isSwept = false
  setTimeout(() => { if (!isSwept) timerRanDuringSweep = true }, 1)
  await invalidator.apply({ mode: 'hard', bans: Array.from({ length: 1000 }, (_, i) => ({ pattern: `^/nomatch/${i}$` })) }, true)
  isSwept = true
  invalidator.close()
  assert.equal(timerRanDuringSweep, true, 'a timer due 1 ms after the ban ran before the 3,000,000-test sweep ended')
})
