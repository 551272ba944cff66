/**
 * @module fetch/hit-for-miss
 * Varnish's hit-for-miss memory: keys whose last answer could be neither stored nor shared
 * (Set-Cookie, private, no-store, …), remembered for a while so that later requests for them
 * go to the origin at once, in parallel, instead of queueing behind one coalesced fetch whose
 * answer they could not use anyway. Only the key and an expiry are kept, never a response;
 * the memory is bounded (the oldest marks go first).
 */

export const MAX_HIT_FOR_MISS_KEYS = 50_000

export class HitForMiss {
  /** key → epoch ms when the mark expires; Map order is insertion order, oldest first */
  private readonly marks = new Map<string, number>()

  constructor(private readonly maxKeys = MAX_HIT_FOR_MISS_KEYS) {}

  /** Remembers `key` as uncacheable for `forMs` from now. */
  remember(key: string, forMs: number, now = Date.now()): void {
    this.marks.delete(key)
    this.marks.set(key, now + forMs)
    if (this.marks.size > this.maxKeys) this.marks.delete(this.marks.keys().next().value!)
  }

  /** Whether `key` was found uncacheable within its window. */
  has(key: string, now = Date.now()): boolean {
    const until = this.marks.get(key)
    if (until === undefined) return false
    if (until > now) return true
    this.marks.delete(key)
    return false
  }

  /** A stored answer: the key is cacheable again. */
  forget(key: string): void {
    this.marks.delete(key)
  }

  get size(): number {
    return this.marks.size
  }
}
