import assert from 'node:assert/strict'
import { test } from 'node:test'
import { restartDelay } from './primary.js'

test('restartDelay: at once after a long life; doubling from 0.5 s while workers die young; at most 30 s', () => {
  assert.deepEqual(restartDelay(60_000, 0), { delayMs: 0, quickExits: 0 })
  assert.deepEqual(restartDelay(60_000, 5), { delayMs: 0, quickExits: 0 })
  let quickExits = 0
  const delays: number[] = []
  for (let i = 0; i < 9; i++) {
    const next = restartDelay(200, quickExits)
    delays.push(next.delayMs)
    quickExits = next.quickExits
  }
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000])
})
