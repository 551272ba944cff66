/**
 * @module config/units
 * The only place that parses human units: sizes ("512mb") and durations ("10s").
 */

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, k: 1024, mb: 1024 ** 2, m: 1024 ** 2, gb: 1024 ** 3, g: 1024 ** 3 }
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Parses "256mb", "16 MB", "1024" (bytes). Returns undefined when invalid. */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? Math.floor(text) : undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  if (!m) return undefined
  const unit = (m[2] ?? '').toLowerCase() || 'b'
  const factor = SIZE_UNITS[unit]
  return factor === undefined ? undefined : Math.floor(Number(m[1]) * factor)
}

/** Parses "10s", "250ms", "2m", "1h" or a number of ms. Returns undefined when invalid. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  if (!m) return undefined
  const unit = (m[2] ?? '').toLowerCase() || 'ms'
  const factor = DURATION_UNITS[unit]
  return factor === undefined ? undefined : Number(m[1]) * factor
}
