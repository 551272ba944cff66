import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sumReceipts } from './bus.js'
import type { InvalidationReceipt } from './invalidator.js'

const ban = { id: 1, mode: 'hard' as const, createdAt: '2026-01-01T00:00:00.000Z', prefix: '/p/' }

test('sumReceipts: counts added up, each ban\'s counts by position, complete only when complete everywhere', () => {
  const a: InvalidationReceipt = { mode: 'hard', invalidated: { urls: 1, tags: 2, bans: 3 }, bans: [{ ...ban, tested: 10, invalidated: 3 }], isComplete: true }
  const b: InvalidationReceipt = { mode: 'hard', invalidated: { urls: 1, tags: 0, bans: 1 }, bans: [{ ...ban, id: 7, tested: 4, invalidated: 1 }], isComplete: false }
  const sum = sumReceipts([a, b])
  assert.deepEqual(sum, { mode: 'hard', invalidated: { urls: 2, tags: 2, bans: 4 }, bans: [{ ...ban, tested: 14, invalidated: 4 }], isComplete: false })
  // the first receipt is not changed
  assert.equal(a.invalidated.urls, 1)
  assert.equal(a.bans[0]!.tested, 10)
  assert.deepEqual(sumReceipts([a]), a)
  assert.throws(() => sumReceipts([]), RangeError)
})
