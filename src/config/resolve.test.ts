/**
 * Unit tests for config/resolve: a config (file contents, CLI flags, library options) → a
 * frozen, validated config. Every error must be ERR_CONFIG_INVALID and name the key path, the
 * bad value and the fix, one line per problem.
 */
import { availableParallelism } from 'node:os'
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { LacquerError } from '../errors.js'
import { TRACKING_COOKIE_PATTERNS } from '../policy/cookies.js'
import { namePattern } from '../policy/rules.js'
import { DEFAULTS, parseListenAddress, parseOriginUrl, resolveConfig, type ProxyOptions } from './resolve.js'
import { defineConfig } from './schema.js'

const ORIGIN = 'http://127.0.0.1:3000'
const SECRET = 'a-test-secret-of-at-least-16-chars'

/** The problem lines of a config error, without the catalog prefix. */
function problemLines(error: LacquerError): string[] {
  assert.ok(error.message.startsWith('invalid configuration: '), error.message)
  return error.message.slice('invalid configuration: '.length).split('\n').map((l) => l.trim()).filter(Boolean)
}

/**
 * Asserts that `fn` throws ERR_CONFIG_INVALID with a line `KEY: VALUE — fix` (schema checks)
 * or `KEY: VALUE is not valid; fix` (checks across keys), whose fix matches `fix`.
 */
function assertConfigError(fn: () => unknown, key: string, value: string, fix: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof LacquerError, `expected a LacquerError, got ${String(error)}`)
    assert.equal(error.code, 'ERR_CONFIG_INVALID')
    assert.equal(error.statusCode, 500)
    assert.equal(error.name, 'LacquerError')
    const lines = problemLines(error)
    const line = lines.find((l) => l.startsWith(`${key}: ${value} — `) || l.startsWith(`${key}: ${value} is not valid; `))
    assert.ok(line, `no line for ${key}: ${value} in ${JSON.stringify(lines)}`)
    assert.match(line, fix)
    return true
  })
}

/** The config error's lines, for tests that look at several. */
function errorLines(fn: () => unknown): string[] {
  try {
    fn()
  } catch (error) {
    assert.ok(error instanceof LacquerError && error.code === 'ERR_CONFIG_INVALID', String(error))
    return problemLines(error)
  }
  assert.fail('expected ERR_CONFIG_INVALID')
}

const resolve = (options: Partial<ProxyOptions>) => () => resolveConfig({ origin: ORIGIN, ...options })

describe('resolveConfig: defaults', () => {
  test('only origin given: every default applied', () => {
    const config = resolveConfig({ origin: ORIGIN })
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 8080 })
    assert.deepEqual(config.admin, { host: '127.0.0.1', port: 8081 })
    assert.equal(config.workers, 1)
    assert.deepEqual(config.origin, { url: ORIGIN, connections: 256, connectTimeoutMs: 5000, firstByteTimeoutMs: 60_000, betweenBytesTimeoutMs: 60_000 })
    assert.deepEqual(config.store, { maxBytes: 256 * 1024 ** 2, maxObjectBytes: 16 * 1024 ** 2 })
    assert.deepEqual(config.limits, { maxHeaderBytes: 32 * 1024, maxHeaderCount: 100, maxUrlBytes: 8 * 1024 })
    assert.equal(config.name, 'lacquer')
    assert.equal(config.isCoalescing, true)
    assert.equal(config.logLevel, 'info')
    assert.deepEqual(config.cookies, {
      ignore: [...TRACKING_COOKIE_PATTERNS],
      session: DEFAULTS.sessionCookies.map(namePattern),
      unknown: 'pass',
    })
    assert.match(config.perUser.secret, /^[0-9a-f]{64}$/)
    assert.deepEqual({ ...config.perUser, secret: '' }, { secret: '', isSecretGenerated: true, maxEntriesPerUser: 100, maxBytesPerUser: 2 * 1024 ** 2 })
    assert.deepEqual(config.dropParams, DEFAULTS.dropParams.map(namePattern))
    assert.deepEqual(config.rules, [])
    assert.equal(config.accessLog, null)
    assert.deepEqual(config.trust, { allow: ['127.0.0.0/8', '::1/128'], token: undefined, require: 'address-or-token' })
    assert.deepEqual(config.invalidation, {
      purgeMethod: true, tagHeaders: new Set(['surrogate-key', 'cache-tag', 'xkey']), maxBans: 10_000, banSweepIntervalMs: 1000,
    })
    assert.deepEqual(config.esi, {
      isEnabled: true, maxDepth: 5, maxIncludes: 100, includeTimeoutMs: 5000, onError: 'abort', hosts: new Set(), isCompressing: true, escapeVars: 'html',
    })
    assert.deepEqual(Object.keys(config).sort(), [
      'accessLog', 'admin', 'coalescing', 'cookies', 'director', 'dropParams', 'esi', 'hitForMissMs', 'invalidation', 'isCoalescing', 'limits', 'listen',
      'logLevel', 'name', 'origin', 'origins', 'perUser', 'rules', 'store', 'trust', 'workers',
    ])
  })

  test('the documented defaults', () => {
    assert.deepEqual(DEFAULTS, {
      listen: '127.0.0.1:8080', admin: '127.0.0.1:8081', storeSize: '256mb', maxObjectSize: '16mb', originConnections: 256,
      connectTimeout: '5s', firstByteTimeout: '60s', betweenBytesTimeout: '60s', maxHeaderSize: '32kb', maxHeaderCount: 100, maxUrlSize: '8kb',
      sessionCookies: ['session', 'sessionid', 'sid', 'PHPSESSID', 'JSESSIONID', 'connect.sid', 'laravel_session', '_session_id',
        'wordpress_logged_in_*', 'wp-settings-*', 'SESS*', 'SSESS*', 'ASP.NET_SessionId', '*_session'],
      dropParams: ['utm_*', 'fbclid', 'gclid', 'dclid', 'msclkid', 'mc_cid', 'mc_eid', '_ga', 'yclid', 'igshid'],
      maxEntriesPerUser: 100,
      maxBytesPerUser: '2mb',
      trustedNetworks: ['127.0.0.0/8', '::1/128'],
      tagHeaders: ['surrogate-key', 'cache-tag', 'xkey'],
      maxBans: 10_000,
      banSweepInterval: '1s',
      esiMaxDepth: 5,
      esiMaxIncludes: 100,
      esiIncludeTimeout: '5s',
    })
  })

  test('undefined options fall back to the defaults', () => {
    const config = resolveConfig({ origin: ORIGIN, listen: undefined, store: { size: undefined }, coalescing: undefined, rules: undefined })
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 8080 })
    assert.equal(config.store.maxBytes, 256 * 1024 ** 2)
    assert.equal(config.isCoalescing, true)
    assert.deepEqual(config.rules, [])
  })

  test('the result is deeply frozen', () => {
    const config = resolveConfig({ origin: ORIGIN, rules: [{ match: { path: '/a' }, ttl: '1m', key: { vary: ['accept'] } }] })
    for (const part of [config, config.listen, config.admin, config.origin, config.store, config.limits, config.cookies, config.cookies.ignore,
      config.perUser, config.dropParams, config.rules, config.rules[0], config.rules[0]!.key]) {
      assert.equal(Object.isFrozen(part), true)
    }
    assert.throws(() => { (config.origin as { connections: number }).connections = 1 }, TypeError)
    assert.throws(() => { (config.rules as unknown[]).push({}) }, TypeError)
  })

  test('a generated per-user secret is new each time; a configured one is kept', () => {
    assert.notEqual(resolveConfig({ origin: ORIGIN }).perUser.secret, resolveConfig({ origin: ORIGIN }).perUser.secret)
    const config = resolveConfig({ origin: ORIGIN, perUser: { secret: SECRET } })
    assert.equal(config.perUser.secret, SECRET)
    assert.equal(config.perUser.isSecretGenerated, false)
  })
})

describe('resolveConfig: options', () => {
  test('every option is applied with its units', () => {
    const config = resolveConfig({
      origin: { url: 'http://app.internal:8000', connections: 8, connectTimeout: '250ms', firstByteTimeout: '2m', betweenBytesTimeout: 1500 },
      listen: '0.0.0.0:80', admin: ':9000', store: { type: 'memory', size: '1gb', maxObjectSize: '1mb' },
      limits: { maxHeaderSize: 65536, maxHeaderCount: 50, maxUrlSize: '2kb' }, coalescing: false, logLevel: 'debug',
      perUser: { secret: SECRET, maxEntriesPerUser: 5, maxBytesPerUser: '64kb' },
    })
    assert.deepEqual(config.listen, { host: '0.0.0.0', port: 80 })
    assert.deepEqual(config.admin, { host: '127.0.0.1', port: 9000 })
    assert.deepEqual(config.origin, { url: 'http://app.internal:8000', connections: 8, connectTimeoutMs: 250, firstByteTimeoutMs: 120_000, betweenBytesTimeoutMs: 1500 })
    assert.deepEqual(config.store, { maxBytes: 1024 ** 3, maxObjectBytes: 1024 ** 2 })
    assert.deepEqual(config.limits, { maxHeaderBytes: 65536, maxHeaderCount: 50, maxUrlBytes: 2048 })
    assert.equal(config.isCoalescing, false)
    assert.equal(config.logLevel, 'debug')
    assert.deepEqual(config.perUser, { secret: SECRET, isSecretGenerated: false, maxEntriesPerUser: 5, maxBytesPerUser: 64 * 1024 })
  })

  test('workers: a number as given, auto one per core, anything else refused with the key named', () => {
    assert.equal(resolveConfig({ origin: ORIGIN, workers: 3 }).workers, 3)
    assert.equal(resolveConfig({ origin: ORIGIN, workers: 'auto' }).workers, availableParallelism())
    assert.ok(errorLines(resolve({ workers: 'all' as never })).some((line) => /^workers: "all" — give a whole number .* or auto/.test(line)), 'names workers and the fix')
  })

  test('origin as a string or as { url } is the same', () => {
    assert.deepEqual(resolveConfig({ origin: ORIGIN }).origin, resolveConfig({ origin: { url: ORIGIN } }).origin)
  })

  test('admin: false turns the admin port off', () => {
    assert.equal(resolveConfig({ origin: ORIGIN, admin: false }).admin, null)
  })

  test('store.maxObjectSize equal to store.size is allowed', () => {
    assert.deepEqual(resolveConfig({ origin: ORIGIN, store: { size: '1mb', maxObjectSize: '1mb' } }).store, { maxBytes: 1024 ** 2, maxObjectBytes: 1024 ** 2 })
  })

  test('the default object limit shrinks to fit a small store', () => {
    assert.deepEqual(resolveConfig({ origin: ORIGIN, store: { size: '4mb' } }).store, { maxBytes: 4 * 1024 ** 2, maxObjectBytes: 4 * 1024 ** 2 })
  })

  test('a Unix socket origin is kept as given', () => {
    assert.equal(resolveConfig({ origin: 'unix:/run/app.sock' }).origin.url, 'unix:/run/app.sock')
  })

  test('cookies: ignore adds to the tracking list, ignoreBuiltin: false drops it, session replaces the session list', () => {
    const added = resolveConfig({ origin: ORIGIN, cookies: { ignore: ['consent*'], session: ['auth'], unknown: 'ignore' } }).cookies
    assert.deepEqual(added.ignore, [...TRACKING_COOKIE_PATTERNS, /^consent.*$/])
    assert.deepEqual(added.session, [/^auth$/])
    assert.equal(added.unknown, 'ignore')
    const dropped = resolveConfig({ origin: ORIGIN, cookies: { ignoreBuiltin: false, ignore: ['theme'] } }).cookies
    assert.deepEqual(dropped.ignore, [/^theme$/])
    assert.deepEqual(resolveConfig({ origin: ORIGIN, cookies: { ignoreBuiltin: true } }).cookies.ignore, [...TRACKING_COOKIE_PATTERNS])
  })

  test('key.dropParams replaces the default list', () => {
    assert.deepEqual(resolveConfig({ origin: ORIGIN, key: { dropParams: ['ref', 'src_*'] } }).dropParams, [/^ref$/, /^src_.*$/])
    assert.deepEqual(resolveConfig({ origin: ORIGIN, key: { dropParams: [] } }).dropParams, [])
  })

  test('rules are compiled in order, named, with their durations in ms', () => {
    const config = resolveConfig({
      origin: ORIGIN,
      rules: [
        { name: 'news', match: { path: '/news/**' }, ttl: '5m', grace: '30s', keep: '1h', tags: ['news'] },
        { match: { path: '/checkout/**' }, pass: true },
        { match: { path: '/account/**' }, perUser: { cookie: 'session' }, key: { query: 'sort', dropParams: ['x_*'], vary: ['Accept-Language'] } },
      ],
    })
    assert.deepEqual(config.rules.map((r) => [r.name, r.index]), [['news', 0], ['rules[1]', 1], ['rules[2]', 2]])
    const [news, checkout, account] = config.rules
    assert.deepEqual([news!.ttlMs, news!.graceMs, news!.keepMs, news!.tags], [300_000, 30_000, 3_600_000, ['news']])
    assert.equal(checkout!.pass, true)
    assert.deepEqual(account!.perUser, { cookie: 'session' })
    assert.deepEqual(account!.key, { query: 'sort', dropParams: [/^x_.*$/], vary: ['accept-language'] })
    assert.equal(news!.matches({ method: 'GET', host: 'a', path: '/news/1', headers: [] }), true)
    assert.equal(news!.matches({ method: 'GET', host: 'a', path: '/sport/1', headers: [] }), false)
  })

  test('hooks (functions) are accepted and left out of the resolved config', () => {
    const config = resolveConfig(defineConfig({ origin: ORIGIN, hooks: { recv: () => undefined, backendResponse: () => undefined } }))
    assert.equal('hooks' in config, false)
  })

  test('defineConfig returns its argument', () => {
    const input = { origin: ORIGIN, rules: [{ pass: true }] }
    assert.equal(defineConfig(input), input)
  })
})

describe('resolveConfig: errors name the key, the value and the fix', () => {
  test('an unknown key, at the top or nested', () => {
    const cases: Array<[unknown, string]> = [
      [{ storeSize: '1gb' }, '(top level): unknown key "storeSize"; check the spelling against docs/configuration.md'],
      [{ store: { sise: '1gb' } }, 'store: unknown key "sise"; check the spelling against docs/configuration.md'],
      [{ rules: [{ math: { path: '/' } }] }, 'rules[0]: unknown key "math"; check the spelling against docs/configuration.md'],
      [{ rules: [{ match: { paths: '/' } }] }, 'rules[0].match: unknown key "paths"; check the spelling against docs/configuration.md'],
    ]
    for (const [options, line] of cases) assert.deepEqual(errorLines(resolve(options as Partial<ProxyOptions>)), [line])
  })

  test('listen', () => {
    assertConfigError(resolve({ listen: 'nonsense' }), 'listen', '"nonsense"', /use HOST:PORT, e\.g\. 127\.0\.0\.1:8080/)
    assertConfigError(resolve({ listen: '127.0.0.1:70000' }), 'listen', '"127.0.0.1:70000"', /use HOST:PORT/)
  })

  test('admin', () => {
    assertConfigError(resolve({ admin: 'localhost' }), 'admin', '"localhost"', /use HOST:PORT/)
  })

  test('admin: true (YAML "yes") says what to write instead', () => {
    assertConfigError(resolve({ admin: true } as unknown as Partial<ProxyOptions>), 'admin', 'true', /HOST:PORT|false/)
  })

  test('store.size', () => {
    assertConfigError(resolve({ store: { size: 'lots' } }), 'store.size', '"lots"', /not a size; use e\.g\. 256mb/)
    assertConfigError(resolve({ store: { size: '10tb' } }), 'store.size', '"10tb"', /not a size; use e\.g\. 256mb/)
    assertConfigError(resolve({ store: { size: 0 } }), 'store.size', '0', /not a size/)
    assertConfigError(resolve({ store: { size: '0mb' } }), 'store.size', '"0mb"', /not a size/)
  })

  test('store.maxObjectSize', () => {
    assertConfigError(resolve({ store: { maxObjectSize: 'huge' } }), 'store.maxObjectSize', '"huge"', /not a size; use e\.g\./)
  })

  test('store.maxObjectSize larger than store.size', () => {
    assertConfigError(resolve({ store: { size: '1mb', maxObjectSize: '2mb' } }), 'store.maxObjectSize', '"2mb"', /it must not exceed store\.size \(1mb\)/)
  })

  test('store.type', () => {
    assertConfigError(resolve({ store: { type: 'redis' as 'memory' } }), 'store.type', '"redis"', /only "memory"/)
  })

  test('origin.connections', () => {
    assertConfigError(resolve({ origin: { url: ORIGIN, connections: 0 } }), 'origin.connections', '0', /≥ 1/)
  })

  test('origin.connections not a whole number', () => {
    assertConfigError(resolve({ origin: { url: ORIGIN, connections: 1.5 } }), 'origin.connections', '1.5', /whole number|integer/)
  })

  test('limits.maxHeaderCount', () => {
    assertConfigError(resolve({ limits: { maxHeaderCount: -3 } }), 'limits.maxHeaderCount', '-3', /≥ 1/)
  })

  test('durations', () => {
    assertConfigError(resolve({ origin: { url: ORIGIN, connectTimeout: 'soon' } }), 'origin.connectTimeout', '"soon"', /not a duration; use e\.g\. 10s, 250ms/)
    assertConfigError(resolve({ origin: { url: ORIGIN, firstByteTimeout: -1 } }), 'origin.firstByteTimeout', '-1', /not a duration/)
    assertConfigError(resolve({ origin: { url: ORIGIN, betweenBytesTimeout: '5 years' } }), 'origin.betweenBytesTimeout', '"5 years"', /not a duration/)
    assertConfigError(resolve({ rules: [{ ttl: '10x' }] }), 'rules[0].ttl', '"10x"', /not a duration; use e\.g\. 10s/)
    assertConfigError(resolve({ rules: [{ pass: false }, { grace: 'soon' }] }), 'rules[1].grace', '"soon"', /not a duration/)
  })

  test('a zero origin timeout is refused (it would mean "no timeout" to the HTTP client, not "fail at once")', () => {
    assertConfigError(resolve({ origin: { url: ORIGIN, connectTimeout: '0s' } }), 'origin.connectTimeout', '"0s"', /duration/)
    assertConfigError(resolve({ origin: { url: ORIGIN, firstByteTimeout: 0 } }), 'origin.firstByteTimeout', '0', /duration/)
  })

  test('header and URL limits', () => {
    assertConfigError(resolve({ limits: { maxHeaderSize: 'big' } }), 'limits.maxHeaderSize', '"big"', /not a size/)
    assertConfigError(resolve({ limits: { maxUrlSize: 0 } }), 'limits.maxUrlSize', '0', /not a size/)
  })

  test('origin', () => {
    assertConfigError(() => resolveConfig({ origin: '' }), 'origin', '""', /give the app's address, e\.g\. --origin http:\/\/127\.0\.0\.1:3000/)
    assertConfigError(() => resolveConfig({ origin: 'https://app:443' }), 'origin', '"https://app:443"', /only http:\/\/ origins \(or unix:\/path\) are supported/)
    assertConfigError(() => resolveConfig({ origin: 'http://app/base' }), 'origin', '"http://app/base"', /no path, query or credentials/)
    assertConfigError(() => resolveConfig({ origin: { url: 'ftp://app' } }), 'origin.url', '"ftp://app"', /only http:\/\//)
  })

  test('a missing origin says how to give one', () => {
    assertConfigError(() => resolveConfig({} as ProxyOptions), 'origin', 'missing', /http:\/\/(HOST:PORT|127\.0\.0\.1)/)
  })

  test('an origin of the wrong type says how to give one', () => {
    assertConfigError(() => resolveConfig({ origin: 42 } as unknown as ProxyOptions), 'origin', '42', /http:\/\/(HOST:PORT|127\.0\.0\.1)/)
  })

  test('logLevel and cookies.unknown list the allowed values', () => {
    assertConfigError(resolve({ logLevel: 'loud' as 'info' }), 'logLevel', '"loud"', /"error"\|"warn"\|"info"\|"debug"/)
    assertConfigError(resolve({ cookies: { unknown: 'drop' as 'pass' } }), 'cookies.unknown', '"drop"', /"pass"\|"ignore"/)
  })

  test('wrong types', () => {
    assertConfigError(resolve({ coalescing: 'yes' as unknown as boolean }), 'coalescing', '"yes"', /expected boolean/)
    assertConfigError(resolve({ rules: 'x' as unknown as [] }), 'rules', '"x"', /expected array/)
  })

  test('perUser.secret too short', () => {
    assertConfigError(resolve({ perUser: { secret: 'short' } }), 'perUser.secret', '"short"', /at least 16 characters .*openssl rand -hex 32.*or leave it out/)
  })

  test('rules: bad match values', () => {
    assertConfigError(resolve({ rules: [{ match: { pathRegex: '(' } }] }), 'rules[0].match.pathRegex', '"("', /not a valid regular expression \(.*Unterminated group\)/)
    assertConfigError(resolve({ rules: [{ match: { path: 'products/*' } }] }), 'rules[0].match.path', '"products/*"', /a path glob starts with \/, e\.g\. \/products\/\*\*/)
    assertConfigError(resolve({ rules: [{ match: { path: ['/a', 'b'] } }] }), 'rules[0].match.path[1]', '"b"', /starts with \//)
    assertConfigError(resolve({ rules: [{ match: { methods: ['get'] } }] }), 'rules[0].match.methods[0]', '"get"', /use upper case, e\.g\. GET/)
    assertConfigError(resolve({ rules: [{ tags: ['a b'] }] }), 'rules[0].tags[0]', '"a b"', /no spaces or commas/)
  })

  test('rules: contradictions', () => {
    assertConfigError(resolve({ rules: [{ pass: true, cache: true }] }), 'rules[0]', '{"pass":true,"cache":true}', /pass and cache contradict each other; keep one/)
    assertConfigError(resolve({ rules: [{ pass: true, perUser: { cookie: 'sid' } }] }), 'rules[0]', '{"pass":true,"perUser":{"cookie":"sid"}}', /perUser has no effect; remove one/)
    assertConfigError(resolve({ rules: [{ match: { path: '/a', pathRegex: '^/a' } }] }), 'rules[0]', '{"match":{"path":"/a","pathRegex":"^/a"}}', /not both/)
  })

  test('rules: a bad header name in unset names the header rule', () => {
    assertConfigError(resolve({ rules: [{ requestHeaders: { unset: ['bad header'] } }] }), 'rules[0].requestHeaders.unset[0]', '"bad header"', /not a valid header field name/)
  })

  test('rules: a bad header name as a key of set or match.headers says it is not a header name', () => {
    const cases: Array<[Partial<ProxyOptions>, string]> = [
      [{ rules: [{ requestHeaders: { set: { 'bad header': 'x' } } }] }, 'rules[0].requestHeaders.set'],
      [{ rules: [{ responseHeaders: { set: { 'x:y': 'x' } } }] }, 'rules[0].responseHeaders.set'],
      [{ rules: [{ match: { headers: { 'bad header': true } } }] }, 'rules[0].match.headers'],
    ]
    for (const [options, key] of cases) {
      const lines = errorLines(resolve(options))
      assert.equal(lines.length, 1, JSON.stringify(lines))
      assert.ok(lines[0]!.startsWith(key), lines[0])
      assert.match(lines[0]!, /not a valid header field name/, lines[0])
    }
  })

  test('rules: a bad cookie name as a key of match.cookies says it is not a cookie name', () => {
    const lines = errorLines(resolve({ rules: [{ match: { cookies: { 'a b': true } } }] }))
    assert.ok(lines[0]!.startsWith('rules[0].match.cookies'), lines[0])
    assert.match(lines[0]!, /not a valid cookie name/, lines[0])
  })

  test('rules: perUser with both cookie and header says to give one', () => {
    const lines = errorLines(resolve({ rules: [{ perUser: { cookie: 'sid', header: 'x-user' } as unknown as { cookie: string } }] }))
    assert.ok(lines[0]!.startsWith('rules[0].perUser'), lines[0])
    assert.match(lines[0]!, /cookie/, lines[0])
    assert.match(lines[0]!, /header/, lines[0])
    assert.doesNotMatch(lines[0]!, /— Invalid input$/, lines[0])
  })

  test('hooks: an unknown hook name or a hook that is not a function is refused', () => {
    assert.throws(resolve({ hooks: { recieve: () => undefined } as never }), (error: unknown) => {
      assert.ok(error instanceof LacquerError && error.code === 'ERR_CONFIG_INVALID', String(error))
      assert.match(error.message, /hooks: unknown key "recieve"/)
      return true
    })
    assert.throws(resolve({ hooks: { recv: 'pass' } as never }), (error: unknown) => {
      assert.ok(error instanceof LacquerError && error.code === 'ERR_CONFIG_INVALID', String(error))
      assert.match(error.message, /hooks\.recv: .*a hook is a function/)
      return true
    })
  })

  test('several problems: one line each', () => {
    const lines = errorLines(resolve({ listen: 'x', store: { size: 'lots' }, rules: [{ ttl: '10x' }] }))
    assert.equal(lines.length, 3, JSON.stringify(lines))
    assert.ok(lines.some((l) => l.startsWith('listen: "x" — ')))
    assert.ok(lines.some((l) => l.startsWith('store.size: "lots" — ')))
    assert.ok(lines.some((l) => l.startsWith('rules[0].ttl: "10x" — ')))
  })
})

describe('parseListenAddress', () => {
  test('HOST:PORT, :PORT, PORT and [v6]:PORT', () => {
    assert.deepEqual(parseListenAddress('listen', '10.0.0.1:8080'), { host: '10.0.0.1', port: 8080 })
    assert.deepEqual(parseListenAddress('listen', 'localhost:3000'), { host: 'localhost', port: 3000 })
    assert.deepEqual(parseListenAddress('listen', ':8080'), { host: '127.0.0.1', port: 8080 })
    assert.deepEqual(parseListenAddress('listen', '8080'), { host: '127.0.0.1', port: 8080 })
    assert.deepEqual(parseListenAddress('listen', '[::1]:8080'), { host: '::1', port: 8080 })
    assert.deepEqual(parseListenAddress('listen', '[::]:80'), { host: '::', port: 80 })
  })

  test('port 0 and 65535 are allowed', () => {
    assert.deepEqual(parseListenAddress('listen', ':0'), { host: '127.0.0.1', port: 0 })
    assert.deepEqual(parseListenAddress('listen', '0.0.0.0:65535'), { host: '0.0.0.0', port: 65535 })
  })

  test('invalid addresses name the key given', () => {
    for (const text of ['', 'localhost', 'host:', 'host:65536', 'host:99999', 'host:123456', 'a:b:80', '::1:80', '[::1]', '[host]:80', 'host:-1', 'host:80 ']) {
      assertConfigError(() => parseListenAddress('admin', text), 'admin', JSON.stringify(text), /use HOST:PORT, e\.g\. 127\.0\.0\.1:8080 \(port 0 picks a free port\)/)
    }
  })

  test('resolveConfig applies the same parsing to listen and admin', () => {
    assert.deepEqual(resolveConfig({ origin: ORIGIN, listen: '[::1]:0', admin: '9000' }).listen, { host: '::1', port: 0 })
    assert.deepEqual(resolveConfig({ origin: ORIGIN, listen: '[::1]:0', admin: '9000' }).admin, { host: '127.0.0.1', port: 9000 })
    for (const text of ['localhost', 'host:', 'a:b:80', 'host:-1']) {
      assert.throws(resolve({ admin: text }), (e: unknown) => e instanceof LacquerError && e.code === 'ERR_CONFIG_INVALID' && /admin: /.test(e.message) && /HOST:PORT/.test(e.message), text)
    }
  })
})

describe('parseOriginUrl', () => {
  test('http origins are reduced to scheme, host and port', () => {
    assert.equal(parseOriginUrl('http://127.0.0.1:3000'), 'http://127.0.0.1:3000')
    assert.equal(parseOriginUrl('http://127.0.0.1:3000/'), 'http://127.0.0.1:3000')
    assert.equal(parseOriginUrl('http://App.Example:80'), 'http://app.example')
    assert.equal(parseOriginUrl('http://[::1]:3000'), 'http://[::1]:3000')
  })

  test('Unix sockets need an absolute path', () => {
    assert.equal(parseOriginUrl('unix:/tmp/app.sock'), 'unix:/tmp/app.sock')
    assertConfigError(() => parseOriginUrl('unix:tmp/app.sock'), 'origin', '"unix:tmp/app.sock"', /a Unix socket origin is unix:\/absolute\/path\.sock/)
  })

  test('not a URL', () => {
    assertConfigError(() => parseOriginUrl('not a url'), 'origin', '"not a url"', /use http:\/\/HOST:PORT, e\.g\. http:\/\/127\.0\.0\.1:3000/)
    assertConfigError(() => parseOriginUrl('127.0.0.1:3000'), 'origin', '"127.0.0.1:3000"', /use http:\/\/HOST:PORT/)
    // "localhost:3000" parses as a URL with the scheme "localhost:"
    assertConfigError(() => parseOriginUrl('localhost:3000'), 'origin', '"localhost:3000"', /only http:\/\/ origins \(or unix:\/path\) are supported/)
  })

  test('path, query, fragment or credentials are refused', () => {
    for (const url of ['http://app/x', 'http://app/?a=1', 'http://app/#top', 'http://user@app', 'http://user:pw@app']) {
      assertConfigError(() => parseOriginUrl(url), 'origin', JSON.stringify(url), /give only scheme, host and port, with no path, query or credentials/)
    }
  })

  test('other schemes are refused', () => {
    for (const url of ['https://app', 'ftp://app', 'ws://app']) {
      assertConfigError(() => parseOriginUrl(url), 'origin', JSON.stringify(url), /only http:\/\/ origins \(or unix:\/path\) are supported/)
    }
  })

  test('an empty or missing origin', () => {
    assertConfigError(() => parseOriginUrl(''), 'origin', '""', /give the app's address/)
    assertConfigError(() => parseOriginUrl(undefined as unknown as string), 'origin', 'undefined', /give the app's address/)
  })
})
