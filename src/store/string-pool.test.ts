/**
 * Unit tests for store/string-pool: one copy of repeated strings, bounded.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { StringPool } from './string-pool.js'

test('a repeated value is pooled once and returned equal', () => {
  const pool = new StringPool()
  const first = ['text/html', 'charset=utf-8'].join('; ')
  const again = ['text/html', 'charset=utf-8'].join('; ')
  assert.equal(pool.intern(first), first)
  assert.equal(pool.intern(again), again)
  assert.equal(pool.size, 1)
})

test('a full pool starts over: values that never repeat cannot grow it', () => {
  const pool = new StringPool(3)
  for (let i = 0; i < 10; i++) assert.equal(pool.intern(`etag-${i}`), `etag-${i}`)
  assert.ok(pool.size <= 3)
})

test('values longer than the limit are returned as they are, not pooled', () => {
  const pool = new StringPool(10, 8)
  assert.equal(pool.intern('x'.repeat(9)), 'x'.repeat(9))
  assert.equal(pool.size, 0)
  pool.intern('x'.repeat(8))
  assert.equal(pool.size, 1)
})
