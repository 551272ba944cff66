/**
 * Unit tests for config/resolve: options → a frozen, validated config. Every error must be
 * ERR_CONFIG_INVALID and name the option, the bad value and the fix.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { LacquerError } from '../errors.js'
import { DEFAULTS, parseListenAddress, parseOriginUrl, resolveConfig, type ProxyOptions } from './resolve.js'

const ORIGIN = 'http://127.0.0.1:3000'

/** Asserts that `fn` throws ERR_CONFIG_INVALID whose message starts with the key and contains the fix. */
function assertConfigError(fn: () => unknown, key: string, value: string, fix: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof LacquerError, `expected a LacquerError, got ${String(error)}`)
    assert.equal(error.code, 'ERR_CONFIG_INVALID')
    assert.equal(error.statusCode, 500)
    assert.equal(error.name, 'LacquerError')
    assert.ok(error.message.startsWith(`invalid configuration: ${key}: ${value} is not valid; `), error.message)
    assert.match(error.message, fix)
    return true
  })
}

const resolve = (options: Partial<ProxyOptions>) => () => resolveConfig({ origin: ORIGIN, ...options })

describe('resolveConfig: defaults', () => {
  test('only origin given: every default applied', () => {
    assert.deepEqual(resolveConfig({ origin: ORIGIN }), {
      listen: { host: '127.0.0.1', port: 8080 },
      admin: { host: '127.0.0.1', port: 8081 },
      origin: {
        url: ORIGIN, connections: 256, connectTimeoutMs: 5000, firstByteTimeoutMs: 60_000, betweenBytesTimeoutMs: 60_000,
      },
      store: { maxBytes: 256 * 1024 ** 2, maxObjectBytes: 16 * 1024 ** 2 },
      limits: { maxHeaderBytes: 32 * 1024, maxHeaderCount: 100, maxUrlBytes: 8 * 1024 },
      name: 'lacquer',
      isCoalescing: true,
    })
  })

  test('the documented defaults', () => {
    assert.deepEqual(DEFAULTS, {
      listen: '127.0.0.1:8080', admin: '127.0.0.1:8081', storeSize: '256mb', maxObjectSize: '16mb', originConnections: 256,
      connectTimeout: '5s', firstByteTimeout: '60s', betweenBytesTimeout: '60s', maxHeaderSize: '32kb', maxHeaderCount: 100, maxUrlSize: '8kb',
    })
  })

  test('undefined options fall back to the defaults', () => {
    const config = resolveConfig({ origin: ORIGIN, listen: undefined, storeSize: undefined, coalescing: undefined })
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 8080 })
    assert.equal(config.store.maxBytes, 256 * 1024 ** 2)
    assert.equal(config.isCoalescing, true)
  })

  test('the result is deeply frozen', () => {
    const config = resolveConfig({ origin: ORIGIN })
    for (const part of [config, config.listen, config.admin, config.origin, config.store, config.limits]) assert.equal(Object.isFrozen(part), true)
    assert.throws(() => { (config.origin as { connections: number }).connections = 1 }, TypeError)
  })
})

describe('resolveConfig: options', () => {
  test('every option is applied with its units', () => {
    const config = resolveConfig({
      origin: 'http://app.internal:8000', listen: '0.0.0.0:80', admin: ':9000', storeSize: '1gb', maxObjectSize: '1mb',
      originConnections: 8, connectTimeout: '250ms', firstByteTimeout: '2m', betweenBytesTimeout: 1500,
      maxHeaderSize: 65536, maxHeaderCount: 50, maxUrlSize: '2kb', coalescing: false,
    })
    assert.deepEqual(config, {
      listen: { host: '0.0.0.0', port: 80 },
      admin: { host: '127.0.0.1', port: 9000 },
      origin: { url: 'http://app.internal:8000', connections: 8, connectTimeoutMs: 250, firstByteTimeoutMs: 120_000, betweenBytesTimeoutMs: 1500 },
      store: { maxBytes: 1024 ** 3, maxObjectBytes: 1024 ** 2 },
      limits: { maxHeaderBytes: 65536, maxHeaderCount: 50, maxUrlBytes: 2048 },
      name: 'lacquer',
      isCoalescing: false,
    })
  })

  test('admin: false turns the admin port off', () => {
    assert.equal(resolveConfig({ origin: ORIGIN, admin: false }).admin, null)
  })

  test('maxObjectSize equal to storeSize is allowed', () => {
    assert.deepEqual(resolveConfig({ origin: ORIGIN, storeSize: '1mb', maxObjectSize: '1mb' }).store, { maxBytes: 1024 ** 2, maxObjectBytes: 1024 ** 2 })
  })

  test('a Unix socket origin is kept as given', () => {
    assert.equal(resolveConfig({ origin: 'unix:/run/app.sock' }).origin.url, 'unix:/run/app.sock')
  })
})

describe('resolveConfig: errors name the key and the fix', () => {
  test('listen', () => {
    assertConfigError(resolve({ listen: 'nonsense' }), 'listen', '"nonsense"', /use HOST:PORT, e\.g\. 127\.0\.0\.1:8080/)
    assertConfigError(resolve({ listen: '127.0.0.1:70000' }), 'listen', '"127.0.0.1:70000"', /use HOST:PORT/)
  })

  test('admin', () => {
    assertConfigError(resolve({ admin: 'localhost' }), 'admin', '"localhost"', /use HOST:PORT/)
  })

  test('storeSize', () => {
    assertConfigError(resolve({ storeSize: '10tb' }), 'storeSize', '"10tb"', /use a size such as 256mb/)
    assertConfigError(resolve({ storeSize: 0 }), 'storeSize', '0', /use a size such as 256mb/)
    assertConfigError(resolve({ storeSize: '0mb' }), 'storeSize', '"0mb"', /use a size/)
  })

  test('maxObjectSize', () => {
    assertConfigError(resolve({ maxObjectSize: 'huge' }), 'maxObjectSize', '"huge"', /use a size such as/)
  })

  test('maxObjectSize larger than storeSize', () => {
    assertConfigError(resolve({ storeSize: '1mb', maxObjectSize: '2mb' }), 'maxObjectSize', '"2mb"', /it must not exceed storeSize \(1mb\)/)
  })

  test('originConnections', () => {
    assertConfigError(resolve({ originConnections: 0 }), 'originConnections', '0', /use a whole number ≥ 1/)
    assertConfigError(resolve({ originConnections: 1.5 }), 'originConnections', '1.5', /use a whole number ≥ 1/)
  })

  test('maxHeaderCount', () => {
    assertConfigError(resolve({ maxHeaderCount: -3 }), 'maxHeaderCount', '-3', /use a whole number ≥ 1/)
  })

  test('durations', () => {
    assertConfigError(resolve({ connectTimeout: 'soon' }), 'connectTimeout', '"soon"', /use a duration such as 10s, 250ms or 2m/)
    assertConfigError(resolve({ connectTimeout: '0s' }), 'connectTimeout', '"0s"', /use a duration/)
    assertConfigError(resolve({ firstByteTimeout: -1 }), 'firstByteTimeout', '-1', /use a duration/)
    assertConfigError(resolve({ betweenBytesTimeout: '5 years' }), 'betweenBytesTimeout', '"5 years"', /use a duration/)
  })

  test('header and URL limits', () => {
    assertConfigError(resolve({ maxHeaderSize: 'big' }), 'maxHeaderSize', '"big"', /use a size/)
    assertConfigError(resolve({ maxUrlSize: 0 }), 'maxUrlSize', '0', /use a size/)
  })

  test('origin', () => {
    assertConfigError(() => resolveConfig({ origin: '' }), 'origin', '""', /give the app's address, e\.g\. --origin http:\/\/127\.0\.0\.1:3000/)
    assertConfigError(() => resolveConfig({ origin: 'https://app:443' }), 'origin', '"https://app:443"', /only http:\/\/ origins \(or unix:\/path\) are supported/)
    assertConfigError(() => resolveConfig({ origin: 'http://app/base' }), 'origin', '"http://app/base"', /no path, query or credentials/)
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
