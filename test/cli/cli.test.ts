/**
 * The built `lacquer` binary: serve and demo start, answer and stop on SIGTERM; bad options
 * and a port in use are refused with the problem named and a non-zero exit. Tests that count
 * origin requests or expect the second request to hit run `--workers 1` (one store); the
 * cluster is test/cli/workers.test.ts.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import net from 'node:net'
import { after, test } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request } from '../helpers/proxy.js'
import { type CliRun, runCli } from '../helpers/cli.js'

const children: ChildProcess[] = []
after(() => { for (const child of children) if (child.exitCode === null) child.kill('SIGKILL') })

/** The command, with `waitFor(pattern, ms)` on stdout. */
function run(args: string[]): Omit<CliRun, 'waitFor'> & { waitFor(pattern: RegExp, ms?: number): Promise<RegExpMatchArray> } {
  const r = runCli(args, { children })
  const waitOnStdout = r.waitFor.bind(r)
  return Object.assign(r, { waitFor: (pattern: RegExp, ms = 10_000) => waitOnStdout(pattern, 'stdout', ms) })
}

test('serve: proxies and caches, then exits 0 on SIGTERM', async () => {
  const origin = await startOrigin({ '/': (_req, res) => { res.writeHead(200, { 'cache-control': 'max-age=60' }); res.end('home') } })
  const cli = run(['serve', '--workers', '1', '--origin', origin.url, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--log-level', 'warn'])
  const [, url] = await cli.waitFor(/serving (http:\/\/\S+)/)
  assert.equal((await request(`${url}/`)).body, 'home')
  const second = await request(`${url}/`)
  assert.ok(isHit(second), cacheStatus(second))
  cli.child.kill('SIGTERM')
  assert.equal(await cli.exited, 0)
  await origin.close()
})

test('serve: a bad --origin is refused with the option named and exit status 2', async () => {
  const cli = run(['serve', '--origin', 'ftp://example', '--listen', '127.0.0.1:0', '--no-admin'])
  assert.equal(await cli.exited, 2)
  assert.match(cli.stderr, /ERR_CONFIG_INVALID/)
  assert.match(cli.stderr, /origin: "ftp:\/\/example"/)
})

test('serve: a bad size is refused with the option named', async () => {
  const cli = run(['serve', '--origin', 'http://127.0.0.1:1', '--store-size', 'lots', '--listen', '127.0.0.1:0', '--no-admin'])
  assert.equal(await cli.exited, 2)
  assert.match(cli.stderr, /store\.size: "lots" — not a size; use e\.g\. 256mb/)
})

test('serve: a port in use is named and the exit status is 1', async () => {
  const blocker = net.createServer()
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
  const port = (blocker.address() as net.AddressInfo).port
  const cli = run(['serve', '--workers', '1', '--origin', 'http://127.0.0.1:1', '--listen', `127.0.0.1:${port}`, '--no-admin'])
  assert.equal(await cli.exited, 1)
  assert.match(cli.stderr, new RegExp(`ERR_SERVER_LISTEN.*127\\.0\\.0\\.1:${port} is already in use`))
  blocker.close()
})

test('serve: a missing --origin is refused', async () => {
  const cli = run(['serve', '--listen', '127.0.0.1:0'])
  assert.notEqual(await cli.exited, 0)
  assert.match(cli.stderr, /--origin/)
})

test('demo: prints the URLs and serves the sample site through the cache', async () => {
  const cli = run(['demo', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--origin-listen', '127.0.0.1:0'])
  const [, url] = await cli.waitFor(/site through Lacquer: (http:\/\/\S+?)\/\n/)
  const [, adminUrl] = await cli.waitFor(/admin:\s+(http:\/\/\S+?)\/stats/)
  const first = await request(`${url}/cached`)
  assert.equal(first.status, 200)
  assert.match(first.body, /A cached page/)
  const second = await request(`${url}/cached`)
  assert.ok(isHit(second), cacheStatus(second))
  assert.equal(second.body, first.body)
  const login = await request(`${url}/login?user=bob`)
  assert.match(String(login.headers['set-cookie']), /session=bob/)
  assert.match(cacheStatus(login), /RESPONSE-SET-COOKIE|RESPONSE-NO-STORE/)
  const me = await request(`${url}/api/me`, { headers: { cookie: 'session=bob-1' } })
  assert.equal(JSON.parse(me.body).user, 'bob')
  assert.match(cacheStatus(me), /fwd=bypass; .*detail=REQUEST-COOKIE/)
  const fr = await request(`${url}/vary`, { headers: { 'accept-language': 'fr' } })
  const de = await request(`${url}/vary`, { headers: { 'accept-language': 'de' } })
  assert.match(fr.body, /Bonjour/)
  assert.match(de.body, /Hallo/)
  const stats = JSON.parse((await request(`${adminUrl}/stats`)).body)
  assert.ok(stats.hits >= 1 && stats.passes >= 1)
  cli.child.kill('SIGTERM')
  assert.equal(await cli.exited, 0)
})

test('serve --origin unix:/path.sock: HTTP over a Unix domain socket, end to end, cached', async () => {
  const { startRestartableOrigin } = await import('../helpers/restartable-origin.js')
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = mkdtempSync(join(tmpdir(), 'lacquer-unix-'))
  const app = await startRestartableOrigin('over-the-socket', { socketPath: join(dir, 'app.sock') })
  app.handler = (req, res) => { res.writeHead(200, { 'cache-control': 'max-age=60' }); res.end(`socket says ${req.url} to ${req.headers.host}`) }
  try {
    const cli = run(['serve', '--workers', '1', '--origin', app.url, '--listen', '127.0.0.1:0', '--no-admin', '--log-level', 'warn'])
    const [, url] = await cli.waitFor(/serving (http:\/\/\S+) → unix:/)
    const first = await request(`${url}/over/unix`)
    assert.equal(first.status, 200)
    assert.match(first.body, /^socket says \/over\/unix to 127\.0\.0\.1:\d+$/)
    const second = await request(`${url}/over/unix`)
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(app.served, 1)
    cli.child.kill('SIGTERM')
    assert.equal(await cli.exited, 0)
  } finally {
    await app.stop()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('serve --origin given twice: several origins, round-robin by default, --director to choose', async () => {
  const { startRestartableOrigin } = await import('../helpers/restartable-origin.js')
  const a = await startRestartableOrigin('a')
  const b = await startRestartableOrigin('b')
  try {
    const cli = run(['serve', '--workers', '1', '--origin', a.url, '--origin', b.url, '--listen', '127.0.0.1:0', '--no-admin', '--log-level', 'warn'])
    const [, url] = await cli.waitFor(/serving (http:\/\/\S+) → http:\/\/\S+, http:\/\/\S+/)
    const got = [(await request(`${url}/1`)).body, (await request(`${url}/2`)).body]
    assert.deepEqual(got.sort(), ['a', 'b'])
    cli.child.kill('SIGTERM')
    assert.equal(await cli.exited, 0)
    const fallback = run(['serve', '--workers', '1', '--origin', a.url, '--origin', b.url, '--director', 'fallback', '--listen', '127.0.0.1:0', '--no-admin', '--log-level', 'warn'])
    const [, url2] = await fallback.waitFor(/serving (http:\/\/\S+)/)
    assert.deepEqual([(await request(`${url2}/1`)).body, (await request(`${url2}/2`)).body], ['a', 'a'])
    fallback.child.kill('SIGTERM')
    assert.equal(await fallback.exited, 0)
    const bad = run(['serve', '--origin', a.url, '--director', 'nearest', '--listen', '127.0.0.1:0', '--no-admin'])
    assert.equal(await bad.exited, 2)
    assert.match(bad.stderr, /director\.type: "nearest" — one of round-robin, random, hash, fallback/)
  } finally {
    await a.stop()
    await b.stop()
  }
})
