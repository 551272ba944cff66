/**
 * @module origin/director
 * Directors choose the origin for one fetch among the healthy ones (Varnish's vmod_directors):
 *
 *   round-robin  each healthy origin in turn
 *   random       at random, in proportion to `weight`
 *   hash         by the cache key, so one key always goes to the same origin while it is
 *                healthy (shards the objects of a cluster of app servers); weighted
 *                rendezvous hashing: when an origin leaves, only its keys move
 *   fallback     the first healthy origin in config order
 *
 * Pure: health is decided elsewhere (origin/health-probe.ts); a director only sees the
 * candidates it is given.
 */
import type { DirectorType } from '../config/resolve-origins.js'

export interface Candidate {
  readonly name: string
  readonly weight: number
}

export interface Director {
  readonly type: DirectorType
  /** the origin for this fetch, or undefined when there is no candidate */
  pick<T extends Candidate>(candidates: readonly T[], key: string): T | undefined
}

export function createDirector(type: DirectorType, random: () => number = Math.random): Director {
  switch (type) {
    case 'round-robin': {
      let next = 0
      return {
        type,
        pick: (candidates) => (candidates.length ? candidates[next++ % candidates.length] : undefined),
      }
    }
    case 'random':
      return { type, pick: (candidates) => pickWeighted(candidates, random()) }
    case 'hash':
      return { type, pick: (candidates, key) => pickByHash(candidates, key) }
    case 'fallback':
      return { type, pick: (candidates) => candidates[0] }
  }
}

function pickWeighted<T extends Candidate>(candidates: readonly T[], r: number): T | undefined {
  let total = 0
  for (const c of candidates) total += c.weight
  let at = r * total
  for (const c of candidates) {
    at -= c.weight
    if (at < 0) return c
  }
  return candidates[candidates.length - 1]
}

/** Weighted rendezvous (highest random weight) hashing: score = -weight / ln(h(key, name)). */
function pickByHash<T extends Candidate>(candidates: readonly T[], key: string): T | undefined {
  let best: T | undefined
  let bestScore = -Infinity
  for (const c of candidates) {
    const h = (hash32(`${key}\u0000${c.name}`) + 0.5) / 4294967296
    const score = -c.weight / Math.log(h)
    if (score > bestScore) { best = c; bestScore = score }
  }
  return best
}

/** FNV-1a over UTF-16 code units, then murmur3's finaliser to spread the bits. */
export function hash32(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
