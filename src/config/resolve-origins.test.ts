import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { LacquerError } from '../errors.js'
import { type ProxyOptions, resolveConfig } from './resolve.js'

const ORIGIN = 'http://127.0.0.1:3000'

/** The problem lines of a config error. */
function problems(options: unknown): string[] {
  try {
    resolveConfig(options as ProxyOptions)
  } catch (error) {
    assert.ok(error instanceof LacquerError && error.code === 'ERR_CONFIG_INVALID', String(error))
    // schema problems come one per line; a resolver problem is the message itself
    const lines = error.message.split('\n')
    return lines.length > 1 ? lines.slice(1).map((l) => l.trim()) : [error.message.replace(/^invalid configuration: /, '')]
  }
  assert.fail('expected ERR_CONFIG_INVALID')
}

describe('origins, director, probes', () => {
  test('origin (one) resolves to a list of one, with the defaults', () => {
    const config = resolveConfig({ origin: ORIGIN })
    assert.deepEqual(config.origins, [{
      name: 'origin1', url: ORIGIN, weight: 1, connections: 256, maxQueue: 1024, connectTimeoutMs: 5000,
      firstByteTimeoutMs: 60_000, betweenBytesTimeoutMs: 60_000, probe: null,
    }])
    assert.deepEqual(config.director, { type: 'round-robin' })
  })

  test('origins (several), each a string or an object; origin stays the first one', () => {
    const config = resolveConfig({
      origins: ['http://10.0.0.1:8000', { name: 'b', url: 'unix:/run/b.sock', weight: 3, connections: 8, maxQueue: 0, firstByteTimeout: '2s', probe: '/healthz' }],
      director: { type: 'hash' },
    })
    assert.equal(config.origin.url, 'http://10.0.0.1:8000')
    assert.deepEqual(config.origins.map((o) => [o.name, o.url, o.weight, o.connections, o.maxQueue, o.firstByteTimeoutMs]), [
      ['origin1', 'http://10.0.0.1:8000', 1, 256, 1024, 60_000],
      ['b', 'unix:/run/b.sock', 3, 8, 0, 2000],
    ])
    assert.deepEqual(config.origins[1]!.probe, { path: '/healthz', intervalMs: 5000, timeoutMs: 2000, expectedStatus: 200, window: 8, threshold: 3, initial: 3 })
    assert.equal(config.director.type, 'hash')
    assert.ok(Object.isFrozen(config.origins[1]!.probe))
  })

  test('a probe object: every setting', () => {
    const config = resolveConfig({ origin: { url: ORIGIN, probe: { url: '/up', interval: '1s', timeout: '300ms', expectedStatus: 204, window: 5, threshold: 4, initial: 0 } } })
    assert.deepEqual(config.origins[0]!.probe, { path: '/up', intervalMs: 1000, timeoutMs: 300, expectedStatus: 204, window: 5, threshold: 4, initial: 0 })
  })

  test('mistakes name the key and the fix', () => {
    assert.deepEqual(problems({}), ['origin: missing — required: give the app\'s address, http://HOST:PORT or unix:/path.sock (or several under origins)'])
    assert.deepEqual(problems({ origin: ORIGIN, origins: [ORIGIN] }), ['origins: ["http://127.0.0.1:3000"] — give origin (one) or origins (several), not both'])
    assert.deepEqual(problems({ origins: [] }), ['origins: [] — give at least one origin'])
    assert.deepEqual(problems({ origins: [42] }), ['origins[0]: 42 — give each origin as a string (http://HOST:PORT or unix:/path.sock) or as { name, url, weight, connections, probe, … }'])
    assert.deepEqual(problems({ origins: [{ name: 'a', url: ORIGIN }, { name: 'a', url: ORIGIN }] }), ['origins[1].name: "a" — another origin has this name; names are unique'])
    assert.deepEqual(problems({ origins: [ORIGIN, 'https://x'] }), ['origins[1]: "https://x" is not valid; only http:// origins (or unix:/path) are supported'])
    assert.deepEqual(problems({ origin: ORIGIN, director: { type: 'nearest' } }), ['director.type: "nearest" — one of round-robin, random, hash, fallback'])
    assert.deepEqual(problems({ origin: { url: ORIGIN, weight: 0 } }), ['origin.weight: 0 — must be above 0'])
    assert.deepEqual(problems({ origin: { url: ORIGIN, probe: 'healthz' } }), ['origin.probe: "healthz" — the probe url is a path on the origin, e.g. /healthz'])
    assert.deepEqual(problems({ origin: { url: ORIGIN, probe: { window: 2, threshold: 3 } } }), ['origin.probe.threshold: 3 — must not exceed window (2): that many of the last window probes must pass'])
    assert.deepEqual(problems({ origin: { url: ORIGIN, probe: { interval: '0s' } } }), ['origin.probe.interval: "0s" — not a duration; use e.g. 10s, 250ms, 5m (above 0: a timeout of 0 would mean none)'])
  })
})

describe('coalescing and hit-for-miss', () => {
  test('defaults: coalescing on, 10000 waiters, 30 s; hit-for-miss 2 minutes', () => {
    const config = resolveConfig({ origin: ORIGIN })
    assert.equal(config.isCoalescing, true)
    assert.deepEqual(config.coalescing, { maxWaiters: 10_000, waitTimeoutMs: 30_000 })
    assert.equal(config.hitForMissMs, 120_000)
  })

  test('coalescing: true/false as before, or an object', () => {
    assert.equal(resolveConfig({ origin: ORIGIN, coalescing: false }).isCoalescing, false)
    const config = resolveConfig({ origin: ORIGIN, coalescing: { maxWaiters: 50, waitTimeout: '2s' } })
    assert.equal(config.isCoalescing, true)
    assert.deepEqual(config.coalescing, { maxWaiters: 50, waitTimeoutMs: 2000 })
    assert.equal(resolveConfig({ origin: ORIGIN, coalescing: { enabled: false } }).isCoalescing, false)
  })

  test('hitForMiss: a duration, or false for none', () => {
    assert.equal(resolveConfig({ origin: ORIGIN, hitForMiss: '30s' }).hitForMissMs, 30_000)
    assert.equal(resolveConfig({ origin: ORIGIN, hitForMiss: false }).hitForMissMs, 0)
  })

  test('mistakes name the key and the fix', () => {
    assert.deepEqual(problems({ origin: ORIGIN, coalescing: { maxWaiters: 0 } }), ['coalescing.maxWaiters: 0 — must be ≥ 1'])
    assert.deepEqual(problems({ origin: ORIGIN, coalescing: { waitTimeout: 'soon' } }), ['coalescing.waitTimeout: "soon" — not a duration; use e.g. 10s, 250ms, 5m (above 0: a timeout of 0 would mean none)'])
    assert.deepEqual(problems({ origin: ORIGIN, hitForMiss: true }), ['hitForMiss: true — give a duration (e.g. 2m, 30s) or false'])
  })
})
