/**
 * @module http-cache/range
 * Serving a single byte range from a complete stored response (RFC 9110 §14). Several
 * ranges in one request are answered with the whole representation, which §14.2 allows.
 */
import { type ReadonlyHeaderList, getFirst } from './header-list.js'
import { parseHttpDate } from './http-date.js'

export type RangeAnswer =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' }

/** Decides how to answer `Range` (and `If-Range`, §13.1.5) for a body of `size` bytes. */
export function resolveRange(request: ReadonlyHeaderList, stored: ReadonlyHeaderList, size: number): RangeAnswer {
  const range = getFirst(request, 'range')
  if (range === undefined) return { kind: 'full' }
  const ifRange = getFirst(request, 'if-range')
  if (ifRange !== undefined && !ifRangeHolds(ifRange, stored)) return { kind: 'full' }
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(range)
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'full' } // unknown unit, several ranges or bad syntax
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0) return { kind: 'unsatisfiable' }
    if (size === 0) return { kind: 'full' } // no byte to send; §14.2 lets us ignore the Range
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(m[1])
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (m[2] !== '' && Number(m[2]) < start) return { kind: 'full' } // invalid range-spec: ignore
  if (start >= size) return { kind: 'unsatisfiable' }
  return { kind: 'partial', start, end }
}

/** RFC 9110 §13.1.5: a strong ETag match, or an exact Last-Modified date match. */
function ifRangeHolds(ifRange: string, stored: ReadonlyHeaderList): boolean {
  const value = ifRange.trim()
  if (value.startsWith('"')) {
    const etag = getFirst(stored, 'etag')
    return etag !== undefined && !etag.startsWith('W/') && etag === value
  }
  if (value.startsWith('W/')) return false
  const date = parseHttpDate(value)
  const lastModified = parseHttpDate(getFirst(stored, 'last-modified'))
  return date !== undefined && lastModified !== undefined && date === lastModified
}
