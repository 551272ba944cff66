import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createDirector, hash32 } from './director.js'

const a = { name: 'a', weight: 1 }
const b = { name: 'b', weight: 1 }
const c = { name: 'c', weight: 1 }

function counts(pick: () => { name: string } | undefined, n: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (let i = 0; i < n; i++) { const name = pick()?.name ?? 'none'; out[name] = (out[name] ?? 0) + 1 }
  return out
}

/** A deterministic generator in [0, 1): the weighted test does not depend on luck. */
function seeded(seed: number): () => number {
  let x = seed
  return () => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x / 4294967296 }
}

describe('directors', () => {
  test('no candidate: every director answers undefined', () => {
    for (const type of ['round-robin', 'random', 'hash', 'fallback'] as const) assert.equal(createDirector(type).pick([], 'k'), undefined, type)
  })

  test('round-robin: each candidate in turn', () => {
    const d = createDirector('round-robin')
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => d.pick([a, b, c], 'k')!.name), ['a', 'b', 'c', 'a', 'b', 'c'])
    assert.deepEqual(counts(() => d.pick([a, c], 'k'), 10), { a: 5, c: 5 })
  })

  test('random: in proportion to weight', () => {
    const d = createDirector('random', seeded(42))
    const got = counts(() => d.pick([a, { name: 'heavy', weight: 3 }], 'k'), 4000)
    assert.ok(got.heavy! > 2700 && got.heavy! < 3300, JSON.stringify(got))
    assert.equal(got.heavy! + got.a!, 4000)
  })

  test('hash: one key always goes to the same origin; keys spread over all of them', () => {
    const d = createDirector('hash')
    const spread: Record<string, number> = {}
    for (let i = 0; i < 3000; i++) {
      const key = `http://shop.example/product/${i}`
      const first = d.pick([a, b, c], key)!.name
      assert.equal(d.pick([a, b, c], key)!.name, first)
      spread[first] = (spread[first] ?? 0) + 1
    }
    for (const name of ['a', 'b', 'c']) assert.ok(spread[name]! > 800, JSON.stringify(spread))
  })

  test('hash: when an origin leaves, only its keys move (rendezvous hashing)', () => {
    const d = createDirector('hash')
    let moved = 0
    for (let i = 0; i < 2000; i++) {
      const key = `/k/${i}`
      const before = d.pick([a, b, c], key)!.name
      const after = d.pick([a, c], key)!.name
      if (before !== 'b') assert.equal(after, before, key)
      else moved++
    }
    assert.ok(moved > 0)
  })

  test('hash: weight shifts the share of keys', () => {
    const d = createDirector('hash')
    const got = counts((() => { let i = 0; return () => d.pick([a, { name: 'heavy', weight: 3 }], `/w/${i++}`) })(), 4000)
    assert.ok(got.heavy! > 2700 && got.heavy! < 3300, JSON.stringify(got))
  })

  test('fallback: the first candidate (the first healthy origin in config order)', () => {
    const d = createDirector('fallback')
    assert.equal(d.pick([a, b, c], 'k')!.name, 'a')
    assert.equal(d.pick([b, c], 'k')!.name, 'b')
  })

  test('hash32 is stable and spreads', () => {
    assert.equal(hash32('abc'), hash32('abc'))
    assert.notEqual(hash32('abc'), hash32('abd'))
  })
})
