/**
 * @module store/string-pool
 * One copy of the strings that thousands of stored objects repeat (`text/html; charset=utf-8`,
 * `public, max-age=3600`, `OK`, a site-wide tag): each response arrives with fresh copies, and
 * a stored object keeps them for its whole life. Bounded: when full, the pool starts over
 * (strings already shared stay shared), so values that never repeat cannot grow it.
 */

export class StringPool {
  private readonly strings = new Map<string, string>()

  constructor(private readonly maxEntries = 4096, private readonly maxLength = 256) {}

  /** The pooled copy of `value` (equal to it); long values are returned as they are. */
  intern(value: string): string {
    if (value.length > this.maxLength) return value
    const pooled = this.strings.get(value)
    if (pooled !== undefined) return pooled
    if (this.strings.size >= this.maxEntries) this.strings.clear()
    this.strings.set(value, value)
    return value
  }

  get size(): number {
    return this.strings.size
  }
}
