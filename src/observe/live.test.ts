import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LiveStats } from './live.js'

test('merge: the workers\' seconds add up, percentiles come from the summed buckets, top URLs from both', () => {
  const a = new LiveStats()
  const b = new LiveStats()
  // one process answers fast, the other slowly: the merged p99 is the slow one's, not an average
  for (let i = 0; i < 98; i++) a.request('hit', 'shop.example', '/fast', 0.2)
  for (let i = 0; i < 2; i++) b.request('miss', 'shop.example', '/slow', 400)
  b.request('miss', 'shop.example', '/fast', 1)
  a.origin(true)
  b.origin(false)
  const t = Math.floor(Date.now() / 1000)
  const merged = LiveStats.merge([a.export(), b.export()])
  const point = merged.point(t)
  assert.equal(point.total, 101)
  assert.equal(point.requests.hit, 98)
  assert.equal(point.requests.miss, 3)
  assert.equal(point.originRequests, 2)
  assert.equal(point.originErrors, 1)
  assert.equal(point.p50, 0.5)
  assert.equal(point.p99, 500)
  assert.deepEqual(merged.lastMinute().topMissed, [{ url: 'shop.example/slow', misses: 2 }, { url: 'shop.example/fast', misses: 1 }])
  assert.equal(merged.lastMinute().slowest[0]!.ms, 400)
  assert.equal(merged.history().length, 60)
})
