import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HitForMiss } from './hit-for-miss.js'

test('a remembered key is a hit-for-miss until its window ends', () => {
  const marks = new HitForMiss()
  marks.remember('/a', 1000, 0)
  assert.equal(marks.has('/a', 999), true)
  assert.equal(marks.has('/b', 999), false)
  assert.equal(marks.has('/a', 1000), false)
  assert.equal(marks.size, 0, 'an expired mark is dropped when seen')
})

test('forget: a stored answer ends the mark at once', () => {
  const marks = new HitForMiss()
  marks.remember('/a', 60_000)
  marks.forget('/a')
  assert.equal(marks.has('/a'), false)
})

test('bounded: beyond maxKeys the oldest mark goes first; remembering again renews a key', () => {
  const marks = new HitForMiss(2)
  marks.remember('/1', 60_000, 0)
  marks.remember('/2', 60_000, 0)
  marks.remember('/1', 60_000, 0) // renewed: now the newest
  marks.remember('/3', 60_000, 0)
  assert.equal(marks.size, 2)
  assert.equal(marks.has('/2', 1), false)
  assert.equal(marks.has('/1', 1), true)
  assert.equal(marks.has('/3', 1), true)
})
