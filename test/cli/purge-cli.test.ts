/**
 * `lacquer purge` against a Lacquer started in this process: URLs, --tag, --prefix, --regex,
 * --host (alone: a whole site; with --prefix: that site only), --soft, --json, --token (and
 * $LACQUER_TOKEN). Exit 0 with the receipt printed; exit 1 with the reason when the admin API
 * refuses (bad regex, no trust) or cannot be reached; exit 2 when nothing to purge is named.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import net from 'node:net'
import { after, before, test } from 'node:test'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy } from '../helpers/proxy.js'
import { countingRoute } from '../helpers/invalidation.js'

const BIN = 'dist/src/cli/main.js'
const TOKEN = 'cli-test-token-0123456789'

let origin: TestOrigin
let proxy: TestProxy
let guarded: TestProxy
let adminAddress: string

before(async () => {
  origin = await startOrigin({ '*': countingRoute((req) => ({ 'surrogate-key': `tag-${(req.url ?? '').split('/')[1]}` })) })
  proxy = await startProxy({ origin: origin.url })
  guarded = await startProxy({ origin: origin.url, trust: { allow: ['10.0.0.0/8'], token: TOKEN } })
  adminAddress = new URL(proxy.adminUrl).host
})
after(async () => { await proxy.close(); await guarded.close(); await origin.close() })

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { LACQUER_TOKEN: _ignored, ...inherited } = process.env
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...inherited, ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  return new Promise((resolve) => child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) }))
}

async function stored(base: string, path: string, headers: Record<string, string> = {}): Promise<void> {
  await request(`${base}${path}`, { headers })
  const again = await request(`${base}${path}`, { headers })
  assert.ok(isHit(again), `${path} stored: ${cacheStatus(again)}`)
}

async function assertMiss(base: string, path: string, headers: Record<string, string> = {}): Promise<void> {
  const res = await request(`${base}${path}`, { headers })
  assert.ok(!isHit(res), `${path} must be invalidated: ${cacheStatus(res)}`)
}

async function assertHit(base: string, path: string, headers: Record<string, string> = {}): Promise<void> {
  const res = await request(`${base}${path}`, { headers })
  assert.ok(isHit(res), `${path} must stay stored: ${cacheStatus(res)}`)
}

test('lacquer purge <url>: exit 0, the receipt printed, the URL invalidated (both schemes)', async () => {
  await stored(proxy.url, '/u/1')
  await stored(proxy.url, '/u/1', { 'x-forwarded-proto': 'https' })
  await stored(proxy.url, '/u/2')
  const r = await run(['purge', '--admin', adminAddress, `${proxy.url}/u/1`])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'hard purge: 2 entries invalidated (urls 2, tags 0, bans 0)\n')
  await assertMiss(proxy.url, '/u/1')
  await assertMiss(proxy.url, '/u/1', { 'x-forwarded-proto': 'https' })
  await assertHit(proxy.url, '/u/2')
})

test('lacquer purge --tag (repeatable)', async () => {
  await stored(proxy.url, '/ta/x')
  await stored(proxy.url, '/tb/x')
  await stored(proxy.url, '/tc/x')
  const r = await run(['purge', '--admin', adminAddress, '--tag', 'tag-ta', '--tag', 'tag-tb'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'hard purge: 2 entries invalidated (urls 0, tags 2, bans 0)\n')
  await assertMiss(proxy.url, '/ta/x')
  await assertMiss(proxy.url, '/tb/x')
  await assertHit(proxy.url, '/tc/x')
})

test('lacquer purge --prefix: a ban, swept before the receipt', async () => {
  await stored(proxy.url, '/pre/a')
  await stored(proxy.url, '/pre/b')
  await stored(proxy.url, '/prex')
  const r = await run(['purge', '--admin', adminAddress, '--prefix', '/pre/'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'hard purge: 2 entries invalidated (urls 0, tags 0, bans 2); 1 ban swept\n')
  await assertMiss(proxy.url, '/pre/a')
  await assertHit(proxy.url, '/prex')
})

test('lacquer purge --regex', async () => {
  await stored(proxy.url, '/rx/10')
  await stored(proxy.url, '/rx/ten')
  const r = await run(['purge', '--admin', adminAddress, '--regex', '^/rx/[0-9]+$'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^hard purge: 1 entry invalidated \(urls 0, tags 0, bans 1\); 1 ban swept\n$/)
  await assertMiss(proxy.url, '/rx/10')
  await assertHit(proxy.url, '/rx/ten')
})

test('lacquer purge --host: alone a whole site; with --prefix that site only', async () => {
  await stored(proxy.url, '/h/1', { host: 'site-a.example' })
  await stored(proxy.url, '/h/1', { host: 'site-b.example' })
  await stored(proxy.url, '/h/2', { host: 'site-b.example' })
  const scoped = await run(['purge', '--admin', adminAddress, '--host', 'site-b.example', '--prefix', '/h/1'])
  assert.equal(scoped.code, 0, scoped.stderr)
  assert.match(scoped.stdout, /\(urls 0, tags 0, bans 1\)/)
  await assertHit(proxy.url, '/h/1', { host: 'site-a.example' })
  await assertMiss(proxy.url, '/h/1', { host: 'site-b.example' })
  await assertHit(proxy.url, '/h/2', { host: 'site-b.example' })
  await stored(proxy.url, '/h/1', { host: 'site-a.example' })
  const site = await run(['purge', '--admin', adminAddress, '--host', 'site-a.example', '--json'])
  assert.equal(site.code, 0, site.stderr)
  const receipt = JSON.parse(site.stdout)
  assert.equal(receipt.bans[0].host, 'site-a.example')
  assert.equal(receipt.invalidated.bans, 1)
  await assertMiss(proxy.url, '/h/1', { host: 'site-a.example' })
  await assertHit(proxy.url, '/h/2', { host: 'site-b.example' })
})

test('lacquer purge --soft --json: a soft purge, the receipt as JSON', async () => {
  await stored(proxy.url, '/soft/1')
  const r = await run(['purge', '--admin', adminAddress, '--soft', '--json', `${proxy.url}/soft/1`])
  assert.equal(r.code, 0, r.stderr)
  const receipt = JSON.parse(r.stdout)
  assert.equal(receipt.ok, true)
  assert.equal(receipt.mode, 'soft')
  assert.deepEqual(receipt.invalidated, { urls: 1, tags: 0, bans: 0 })
  const after = await request(`${proxy.url}/soft/1`)
  assert.doesNotMatch(cacheStatus(after), /; hit; ttl=\d/, `no longer fresh: ${cacheStatus(after)}`)
})

test('lacquer purge --soft (text)', async () => {
  await stored(proxy.url, '/soft/2')
  const r = await run(['purge', '--admin', adminAddress, '--soft', `${proxy.url}/soft/2`])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'soft purge: 1 entry invalidated (urls 1, tags 0, bans 0)\n')
})

test('lacquer purge --token (and $LACQUER_TOKEN) against a Lacquer that trusts only the token; without it exit 1', async () => {
  const guardedAdmin = new URL(guarded.adminUrl).host
  await stored(guarded.url, '/g/1')
  const refused = await run(['purge', '--admin', guardedAdmin, `${guarded.url}/g/1`])
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /lacquer purge: refused \(HTTP 403\): .*not in trust\.allow/)
  assert.equal(refused.stdout, '')
  await assertHit(guarded.url, '/g/1')
  const wrong = await run(['purge', '--admin', guardedAdmin, '--token', 'wrong-token-wrong-token', `${guarded.url}/g/1`])
  assert.equal(wrong.code, 1)
  assert.match(wrong.stderr, /HTTP 403.*token is not valid/)
  await assertHit(guarded.url, '/g/1')

  const ok = await run(['purge', '--admin', guardedAdmin, '--token', TOKEN, `${guarded.url}/g/1`])
  assert.equal(ok.code, 0, ok.stderr)
  assert.match(ok.stdout, /urls 1,/)
  await assertMiss(guarded.url, '/g/1')
  await stored(guarded.url, '/g/1')
  const viaEnv = await run(['purge', '--admin', guardedAdmin, `${guarded.url}/g/1`], { LACQUER_TOKEN: TOKEN })
  assert.equal(viaEnv.code, 0, viaEnv.stderr)
  await assertMiss(guarded.url, '/g/1')
})

test('lacquer purge with a bad regex: exit 1, the reason printed, nothing applied', async () => {
  await stored(proxy.url, '/bad/1')
  const r = await run(['purge', '--admin', adminAddress, '--regex', '(a+)+$', `${proxy.url}/bad/1`])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /lacquer purge: refused \(HTTP 400\): patterns\[0\]: .*nests quantifiers/)
  await assertHit(proxy.url, '/bad/1')
  const json = await run(['purge', '--admin', adminAddress, '--json', '--regex', '^/(x)\\1'])
  assert.equal(json.code, 1)
  assert.equal(JSON.parse(json.stdout).ok, false)
})

test('lacquer purge with the admin port unreachable: exit 1 naming the address', async () => {
  const blocker = net.createServer()
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
  const port = (blocker.address() as net.AddressInfo).port
  await new Promise<void>((r) => blocker.close(() => r()))
  const r = await run(['purge', '--admin', `127.0.0.1:${port}`, 'http://shop.example/p'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, new RegExp(`cannot reach the admin port at 127\\.0\\.0\\.1:${port}.*--admin HOST:PORT`))
})

test('lacquer purge with nothing to purge: exit 2', async () => {
  const r = await run(['purge', '--admin', adminAddress])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /say what to purge: a URL, --tag, --prefix, --regex or --host/)
  const soft = await run(['purge', '--admin', adminAddress, '--soft', '--json'])
  assert.equal(soft.code, 2)
})
