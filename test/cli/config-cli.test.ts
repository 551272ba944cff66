/**
 * The built `lacquer` binary with config files: `serve --config`, a config found by name in
 * the working directory, flags over the file, `check-config` (exit 0 / 2, ten kinds of
 * mistakes each named with the key and the fix, as docs/config-errors.md shows them), and
 * reloading (`lacquer reload`, SIGHUP) that keeps the cache and refuses a bad file.
 *
 * `LACQUER_WRITE_CONFIG_ERRORS_DOC=1 node scripts/run-tests.mjs config-cli` rewrites
 * docs/config-errors.md from what check-config prints.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join, resolve } from 'node:path'
import { after, describe, test } from 'node:test'
import { type TestOrigin, startOrigin } from '../helpers/origin.js'
import { useTempDirs } from '../helpers/temp-dirs.js'
import { cacheStatus, isHit, request } from '../helpers/proxy.js'
import { runCli } from '../helpers/cli.js'

const DOC = resolve('docs/config-errors.md')
const children: ChildProcess[] = []
const origins: TestOrigin[] = []
const { dir } = useTempDirs('lacquer-cli-config-')
// a failed assertion skips a test's own clean-up: nothing may keep this process alive
after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await Promise.all(origins.map((o) => o.close()))
})

function run(args: string[], options: { cwd?: string } = {}) {
  return runCli(args, { cwd: options.cwd, children })
}

/** Starts `serve` (one process: these tests count on one store) and waits for its banner; returns the proxy and admin URLs. */
async function serve(args: string[], options: { cwd?: string } = {}) {
  const cli = run(['serve', '--workers', '1', ...args], options)
  const [, url, adminUrl] = await cli.waitFor(/serving (http:\/\/\S+) → \S+(?: \(admin (http:\/\/[^)\s]+)\))?/)
  return { cli, url: url!, adminUrl, adminAddress: adminUrl?.replace(/^http:\/\//, '') }
}

async function stop(cli: ReturnType<typeof run>): Promise<void> {
  cli.child.kill('SIGTERM')
  assert.equal(await cli.exited, 0)
}

/** An origin whose every page may be stored for a minute and says which page it is. */
async function cachedOrigin(): Promise<TestOrigin> {
  const origin = await startOrigin({ '*': (req, res) => { res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }); res.end(`page ${req.url}`) } })
  origins.push(origin)
  return origin
}

async function poll(what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const yaml = (origin: string, rest = '') => `origin: ${origin}\nlisten: 127.0.0.1:0\nadmin: 127.0.0.1:0\nlogLevel: info\n${rest}`
const PRIVATE_PASS_RULE = 'rules:\n  - name: private\n    match: { path: /private/** }\n    pass: true\n'

describe('serve with a config file', () => {
  test('serve --config file.yaml: its rules apply (a pass rule: detail=RULE-PASS)', async () => {
    const origin = await cachedOrigin()
    const d = dir({ 'site.yaml': yaml(origin.url, PRIVATE_PASS_RULE) })
    const { cli, url } = await serve(['--config', join(d, 'site.yaml')])
    assert.match(cli.stdout, new RegExp(`with ${join(d, 'site.yaml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
    const first = await request(`${url}/private/account`)
    assert.equal(first.body, 'page /private/account')
    assert.match(cacheStatus(first), /fwd=bypass; .*detail=RULE-PASS/)
    const second = await request(`${url}/private/account`)
    assert.match(cacheStatus(second), /detail=RULE-PASS/)
    assert.equal(origin.count('/private/account'), 2)
    // a page no rule matches is cached as usual
    await request(`${url}/home`)
    assert.ok(isHit(await request(`${url}/home`)))
    assert.equal(origin.count('/home'), 1)
    await stop(cli)
    await origin.close()
  })

  test('a TypeScript config file with rules', async () => {
    const origin = await cachedOrigin()
    const d = dir({
      'lacquer.config.ts': `import { defineConfig } from ${JSON.stringify(resolve('dist/src/index.js'))}
const ttl: string = '1m'
export default defineConfig({
  origin: ${JSON.stringify(origin.url)},
  listen: '127.0.0.1:0',
  admin: false,
  logLevel: 'warn',
  rules: [{ match: { path: '/private/**' }, pass: true }, { match: { path: '/**' }, ttl }],
})
`,
    })
    const { cli, url } = await serve(['--config', join(d, 'lacquer.config.ts')])
    assert.match(cacheStatus(await request(`${url}/private/x`)), /detail=RULE-PASS/)
    await request(`${url}/page`)
    assert.ok(isHit(await request(`${url}/page`)))
    await stop(cli)
    await origin.close()
  })

  test('a config found by name in the working directory is used', async () => {
    const origin = await cachedOrigin()
    const d = dir({ 'lacquer.config.yaml': yaml(origin.url, PRIVATE_PASS_RULE) })
    const { cli, url } = await serve([], { cwd: d })
    assert.match(cli.stdout, /with \S*lacquer\.config\.yaml/)
    assert.match(cacheStatus(await request(`${url}/private/x`)), /detail=RULE-PASS/)
    await stop(cli)
    await origin.close()
  })

  test('command-line flags override the file', async (t) => {
    const origin = await cachedOrigin()
    // the file's origin is dead, its listen port taken: the flags must win for both
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    const taken = (blocker.address() as net.AddressInfo).port
    t.after(() => { blocker.close() })
    const d = dir({ 'lacquer.config.yaml': `origin: http://127.0.0.1:1\nlisten: 127.0.0.1:${taken}\nadmin: 127.0.0.1:${taken}\nlogLevel: debug\n${PRIVATE_PASS_RULE}` })
    const { cli, url, adminUrl } = await serve(['--origin', origin.url, '--listen', '127.0.0.1:0', '--no-admin', '--log-level', 'warn'], { cwd: d })
    assert.equal(adminUrl, undefined)
    assert.notEqual(new URL(url).port, String(taken))
    assert.match(cli.stdout, new RegExp(`→ ${origin.url.replace(/[.]/g, '\\.')}`))
    const res = await request(`${url}/private/x`)
    assert.equal(res.body, 'page /private/x')
    // the rules still come from the file
    assert.match(cacheStatus(res), /detail=RULE-PASS/)
    // --log-level warn over the file's debug: no info or debug lines
    assert.doesNotMatch(cli.stderr, /"level":"(info|debug)"/)
    await stop(cli)
    await origin.close()
  })

  test('an invalid config file stops serve with exit status 2 and the key named', async () => {
    const d = dir({ 'lacquer.config.yaml': 'origin: http://127.0.0.1:3000\nlisten: 127.0.0.1:0\nadmin: false\nstore:\n  size: lots\n' })
    const cli = run(['serve'], { cwd: d })
    assert.equal(await cli.exited, 2)
    assert.match(cli.stderr, /ERR_CONFIG_INVALID/)
    assert.match(cli.stderr, /store\.size: "lots" — not a size; use e\.g\. 256mb/)
  })

  test('serve --config with a missing file: exit status 2, the file named', async () => {
    const path = join(dir(), 'nope.yaml')
    const cli = run(['serve', '--config', path, '--listen', '127.0.0.1:0', '--no-admin'])
    assert.equal(await cli.exited, 2)
    assert.ok(cli.stderr.includes(`${path}: no such file`), cli.stderr)
  })
})

describe('check-config', () => {
  test('a valid file: exit status 0, what it holds', async () => {
    const d = dir({ 'site.yaml': yaml('http://127.0.0.1:3000/', `${PRIVATE_PASS_RULE}  - match: { path: /assets/** }\n    cache: true\n    ttl: 1d\n`) })
    const cli = run(['check-config', '--config', join(d, 'site.yaml')])
    assert.equal(await cli.exited, 0, cli.stderr)
    assert.equal(cli.stdout, `${join(d, 'site.yaml')}: valid (origin http://127.0.0.1:3000, 2 rules)\n`)
    assert.equal(cli.stderr, '')
  })

  test('a valid file found by name in the working directory', async () => {
    const d = dir({ 'lacquer.config.json': JSON.stringify({ origin: 'http://127.0.0.1:3000', rules: [{ pass: true }] }) })
    const cli = run(['check-config'], { cwd: d })
    assert.equal(await cli.exited, 0, cli.stderr)
    assert.match(cli.stdout, /lacquer\.config\.json: valid \(origin http:\/\/127\.0\.0\.1:3000, 1 rule\)/)
  })

  test('no config file: exit status 2 and how to give one', async () => {
    const cli = run(['check-config'], { cwd: dir() })
    assert.equal(await cli.exited, 2)
    assert.match(cli.stderr, /ERR_CONFIG_INVALID: .*no config file: pass --config PATH or create lacquer\.config\.yaml/)
  })

  test('an invalid file: exit status 2', async () => {
    const d = dir({ 'bad.yaml': 'origin: http://127.0.0.1:3000\nlisten: localhost\n' })
    const cli = run(['check-config', '--config', join(d, 'bad.yaml')])
    assert.equal(await cli.exited, 2)
    assert.equal(cli.stdout, '')
    assert.match(cli.stderr, /^lacquer: ERR_CONFIG_INVALID: /)
  })

  test('a file that cannot be read: exit status 2 and the file named', async () => {
    const d = dir({ 'bad.json': '{ "origin": "http://127.0.0.1:3000", }' })
    const cli = run(['check-config', '--config', join(d, 'bad.json')])
    assert.equal(await cli.exited, 2)
    assert.ok(cli.stderr.includes(`${join(d, 'bad.json')}: not valid JSON`), cli.stderr)
  })
})

interface Mistake {
  title: string
  yaml: string
  /** the key path the message must start with */
  key: string
  /** the fix the message must give */
  fix: RegExp
}

const O = 'origin: http://127.0.0.1:3000\n'

/** Ten kinds of mistakes, as docs/config-errors.md shows them. */
const MISTAKES: Mistake[] = [
  {
    title: 'A misspelt key',
    yaml: `${O}coalesing: false\n`,
    key: '(top level): unknown key "coalesing"',
    fix: /check the spelling against docs\/configuration\.md/,
  },
  {
    title: 'A value of the wrong type',
    yaml: `${O}coalescing: "yes"\n`,
    key: 'coalescing: "yes"',
    fix: /expected boolean/,
  },
  {
    title: 'A size with an unknown unit',
    yaml: `${O}store:\n  size: 10tb\n`,
    key: 'store.size: "10tb"',
    fix: /not a size; use e\.g\. 256mb, 16mb, 512kb or a number of bytes/,
  },
  {
    title: 'A duration in words',
    yaml: `${O}rules:\n  - match: { path: /news/** }\n    ttl: 10 minutes\n`,
    key: 'rules[0].ttl: "10 minutes"',
    fix: /not a duration; use e\.g\. 10s, 250ms, 5m, 1h, 2d/,
  },
  {
    title: 'An https:// origin',
    yaml: 'origin: https://127.0.0.1:3000\n',
    key: 'origin: "https://127.0.0.1:3000"',
    fix: /only http:\/\/ origins \(or unix:\/path\) are supported/,
  },
  {
    title: 'A regular expression that does not compile',
    yaml: `${O}rules:\n  - match: { pathRegex: '^/p/(\\d+$' }\n    ttl: 1h\n`,
    key: 'rules[0].match.pathRegex: "^/p/(\\\\d+$"',
    fix: /not a valid regular expression \(.*\)/,
  },
  {
    title: 'A path glob without the leading /',
    yaml: `${O}rules:\n  - match: { path: products/** }\n    ttl: 5m\n`,
    key: 'rules[0].match.path: "products/**"',
    fix: /a path glob starts with \/, e\.g\. \/products\/\*\*/,
  },
  {
    title: 'pass and cache on one rule',
    yaml: `${O}rules:\n  - match: { path: /cart/** }\n    pass: true\n    cache: true\n`,
    key: 'rules[0]: ',
    fix: /pass and cache contradict each other; keep one/,
  },
  {
    title: 'A per-user secret that is too short',
    yaml: `${O}perUser:\n  secret: hunter2\n`,
    key: 'perUser.secret: "hunter2"',
    fix: /use a secret of at least 16 characters \(e\.g\. `openssl rand -hex 32`\), or leave it out/,
  },
  {
    title: 'A listen address without a port',
    yaml: `${O}listen: localhost\n`,
    key: 'listen: "localhost"',
    fix: /not an address; use HOST:PORT, e\.g\. 127\.0\.0\.1:8080/,
  },
]

/** Runs check-config on a file with these contents; resolves with exit status and stderr. */
async function checkConfig(text: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const d = dir({ 'lacquer.config.yaml': text })
  const cli = run(['check-config', '--config', 'lacquer.config.yaml'], { cwd: d })
  const code = await cli.exited
  return { code, stdout: cli.stdout, stderr: cli.stderr }
}

function renderDoc(results: Array<Mistake & { stderr: string }>): string {
  const parts = [
    '# What `check-config` says for ten kinds of mistakes',
    '',
    'Each example below is a whole `lacquer.config.yaml`, checked with',
    '`lacquer check-config --config lacquer.config.yaml`; the output is copied from the command,',
    'not written by hand (`test/cli/config-cli.test.ts` runs them all and fails when this page',
    'and the program disagree; `LACQUER_WRITE_CONFIG_ERRORS_DOC=1 node scripts/run-tests.mjs config-cli`',
    'rewrites it). Every one exits with status 2 and names the key, the bad value and the fix.',
    'Keys are listed in [configuration.md](configuration.md).',
    '',
  ]
  results.forEach((r, i) => {
    parts.push(`## ${i + 1}. ${r.title}`, '', '```yaml', r.yaml.trimEnd(), '```', '', '```text', r.stderr.trimEnd(), '```', '')
  })
  return parts.join('\n')
}

describe('check-config: ten kinds of mistakes, each named with the key and the fix', () => {
  const results: Array<Mistake & { stderr: string }> = []

  for (const mistake of MISTAKES) {
    test(mistake.title, async () => {
      const { code, stdout, stderr } = await checkConfig(mistake.yaml)
      assert.equal(code, 2, stderr)
      assert.equal(stdout, '')
      assert.match(stderr, /^lacquer: ERR_CONFIG_INVALID: invalid configuration: /)
      const line = stderr.split('\n').map((l) => l.trim()).find((l) => l.includes(mistake.key))
      assert.ok(line, `no line naming ${mistake.key} in ${stderr}`)
      assert.match(line, mistake.fix)
      results.push({ ...mistake, stderr })
    })
  }

  test('docs/config-errors.md shows these ten messages exactly as printed', () => {
    assert.equal(results.length, MISTAKES.length, 'every mistake ran')
    const ordered = MISTAKES.map((m) => results.find((r) => r.title === m.title)!)
    if (process.env.LACQUER_WRITE_CONFIG_ERRORS_DOC === '1') writeFileSync(DOC, renderDoc(ordered))
    const doc = readFileSync(DOC, 'utf8')
    for (const r of ordered) assert.ok(doc.includes(`\`\`\`text\n${r.stderr.trimEnd()}\n\`\`\``), `${r.title}: the doc does not show\n${r.stderr}`)
    assert.equal(doc, renderDoc(ordered))
  })

  test('a bad header name (in requestHeaders.set) names the key and says it is not a header name', async () => {
    const { code, stderr } = await checkConfig(`${O}rules:\n  - match: { path: /** }\n    requestHeaders:\n      set: { "x forwarded": "1" }\n`)
    assert.equal(code, 2, stderr)
    assert.match(stderr, /rules\[0\]\.requestHeaders\.set/)
    assert.match(stderr, /not a valid header field name/)
  })

  test('a config without an origin says how to give one', async () => {
    const { code, stderr } = await checkConfig('listen: 127.0.0.1:0\n')
    assert.equal(code, 2, stderr)
    assert.match(stderr, /origin: /)
    assert.match(stderr, /http:\/\/(HOST:PORT|127\.0\.0\.1)/)
  })
})

describe('reload', () => {
  test('lacquer reload: the new rule applies and the cache is kept; a bad file is refused and the old config keeps serving', async () => {
    const origin = await cachedOrigin()
    const d = dir({ 'lacquer.config.yaml': yaml(origin.url) })
    const path = join(d, 'lacquer.config.yaml')
    const { cli, url, adminAddress } = await serve(['--config', path])
    assert.ok(adminAddress, cli.stdout)
    assert.match(adminAddress, /^127\.0\.0\.1:\d+$/)

    // stored before the reload
    await request(`${url}/private/x`)
    assert.ok(isHit(await request(`${url}/private/x`)))
    await request(`${url}/home`)
    assert.equal(origin.count('/private/x'), 1)

    writeFileSync(path, yaml(origin.url, PRIVATE_PASS_RULE))
    const reload = run(['reload', '--admin', adminAddress])
    assert.equal(await reload.exited, 0, `${reload.stdout} ${reload.stderr}`)
    const answer = JSON.parse(reload.stdout)
    assert.equal(answer.ok, true)
    assert.equal(answer.rules, 1)
    assert.deepEqual(answer.warnings, [])

    // the new rule applies at once
    const passed = await request(`${url}/private/x`)
    assert.match(cacheStatus(passed), /detail=RULE-PASS/)
    assert.equal(origin.count('/private/x'), 2)
    // the cache was kept
    const home = await request(`${url}/home`)
    assert.ok(isHit(home), cacheStatus(home))
    assert.equal(origin.count('/home'), 1)

    // a bad file: refused with the reason, exit status 1, the running config stays
    writeFileSync(path, yaml(origin.url, 'rules:\n  - match: { path: /private/** }\n    ttl: 10x\n'))
    const refused = run(['reload', '--admin', adminAddress])
    assert.equal(await refused.exited, 1)
    const why = JSON.parse(refused.stdout)
    assert.equal(why.ok, false)
    assert.equal(why.code, 'ERR_CONFIG_INVALID')
    assert.match(why.error, /rules\[0\]\.ttl: "10x" — not a duration/)
    assert.match(cacheStatus(await request(`${url}/private/x`)), /detail=RULE-PASS/)
    assert.ok(isHit(await request(`${url}/home`)))
    assert.equal(origin.count('/home'), 1)
    const stats = JSON.parse((await request(`http://${adminAddress}/stats`)).body)
    assert.deepEqual(stats.rules, ['private'])

    await stop(cli)
    await origin.close()
  })

  test('a reload that changes a fixed key says it needs a restart', async () => {
    const origin = await cachedOrigin()
    const d = dir({ 'lacquer.config.yaml': yaml(origin.url) })
    const path = join(d, 'lacquer.config.yaml')
    const { cli, url, adminAddress } = await serve(['--config', path])
    writeFileSync(path, yaml('http://127.0.0.1:1', PRIVATE_PASS_RULE))
    const reload = run(['reload', '--admin', adminAddress!])
    assert.equal(await reload.exited, 0, reload.stdout)
    assert.deepEqual(JSON.parse(reload.stdout).warnings, ['origin changed: it takes effect only after a restart'])
    // still the old origin, with the new rules
    const res = await request(`${url}/private/x`)
    assert.equal(res.body, 'page /private/x')
    assert.match(cacheStatus(res), /detail=RULE-PASS/)
    await stop(cli)
    await origin.close()
  })

  test('a .mjs config is re-read on reload', async () => {
    const origin = await cachedOrigin()
    const d = dir({ 'lacquer.config.mjs': `export default { origin: '${origin.url}', listen: '127.0.0.1:0', admin: '127.0.0.1:0', logLevel: 'warn' }\n` })
    const path = join(d, 'lacquer.config.mjs')
    const { cli, url, adminAddress } = await serve([], { cwd: d })
    writeFileSync(path, `export default { origin: '${origin.url}', listen: '127.0.0.1:0', admin: '127.0.0.1:0', logLevel: 'warn', rules: [{ match: { path: '/private/**' }, pass: true }] }\n`)
    const reload = run(['reload', '--admin', adminAddress!])
    assert.equal(await reload.exited, 0, reload.stdout)
    assert.equal(JSON.parse(reload.stdout).rules, 1)
    assert.match(cacheStatus(await request(`${url}/private/x`)), /detail=RULE-PASS/)
    await stop(cli)
    await origin.close()
  })

  test('lacquer reload without a running Lacquer: exit status 1 and the address named', async () => {
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    const port = (blocker.address() as net.AddressInfo).port
    await new Promise<void>((r) => blocker.close(() => r()))
    const reload = run(['reload', '--admin', `127.0.0.1:${port}`])
    assert.equal(await reload.exited, 1)
    assert.match(reload.stderr, new RegExp(`cannot reach the admin port at 127\\.0\\.0\\.1:${port}.*pass --admin HOST:PORT`))
  })

  test('lacquer reload of a Lacquer started without a config file: refused, exit status 1', async () => {
    const origin = await cachedOrigin()
    const { cli, adminAddress } = await serve(['--origin', origin.url, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--log-level', 'warn'], { cwd: dir() })
    const reload = run(['reload', '--admin', adminAddress!])
    assert.equal(await reload.exited, 1)
    assert.match(JSON.parse(reload.stdout).error, /started without a config file/)
    await stop(cli)
    await origin.close()
  })

  test('SIGHUP reloads: the new rule applies, the cache is kept; a bad file is refused and logged', async () => {
    const origin = await cachedOrigin()
    const d = dir({ 'lacquer.config.yaml': yaml(origin.url) })
    const path = join(d, 'lacquer.config.yaml')
    const { cli, url } = await serve(['--config', path])
    await request(`${url}/home`)
    assert.ok(isHit(await request(`${url}/home`)))

    writeFileSync(path, yaml(origin.url, PRIVATE_PASS_RULE))
    cli.child.kill('SIGHUP')
    await cli.waitFor(/SIGHUP: config reloaded/, 'stderr')
    assert.match(cacheStatus(await request(`${url}/private/x`)), /detail=RULE-PASS/)
    assert.ok(isHit(await request(`${url}/home`)))
    assert.equal(origin.count('/home'), 1)

    writeFileSync(path, yaml(origin.url, 'rules:\n  - match: { path: /private/** }\n    pass: true\n    cache: true\n'))
    cli.child.kill('SIGHUP')
    await cli.waitFor(/SIGHUP: the new config was refused; the running one stays/, 'stderr')
    assert.match(cli.stderr, /pass and cache contradict each other/)
    assert.equal(cli.child.exitCode, null, 'still running')
    assert.match(cacheStatus(await request(`${url}/private/x`)), /detail=RULE-PASS/)
    assert.ok(isHit(await request(`${url}/home`)))

    // and a good file after the bad one is taken again
    writeFileSync(path, yaml(origin.url))
    cli.child.kill('SIGHUP')
    await poll('the rule to go', async () => !/RULE-PASS/.test(cacheStatus(await request(`${url}/private/y`))))
    assert.ok(isHit(await request(`${url}/home`)))
    await stop(cli)
    await origin.close()
  })
})
