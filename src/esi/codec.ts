/**
 * @module esi/codec
 * The stored form of a parsed ESI page (esi/parser's `EsiDocument`): one Buffer, written when
 * the page is stored and read back at delivery, so the page is parsed once (as Varnish stores
 * its ESI instruction stream with the object).
 *
 * API: `encodeDocument(doc)` → Buffer; `decodeDocument(buffer)` → `EsiDocument`, or
 * `undefined` if the buffer is not one (a corrupt store entry; never throws).
 *
 * Layout: the 4 bytes `ESI1`, a 32-bit big-endian length N, N bytes of UTF-8 JSON (the tree,
 * each text node replaced by `{ "type": "text", "at": offset, "length": n }`), then every text
 * node's bytes back to back. Decoding slices the text out of the buffer without copying.
 */
import type { EsiDocument, EsiNode } from './parser.js'

const MAGIC = Buffer.from('ESI1')

type StoredText = { type: 'text'; at: number; length: number }

export function encodeDocument(doc: EsiDocument): Buffer {
  const blobs: Buffer[] = []
  let size = 0
  const json = JSON.stringify(doc, (_key, value: unknown) => {
    if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'text' && Buffer.isBuffer((value as { bytes?: unknown }).bytes)) {
      const bytes = (value as { bytes: Buffer }).bytes
      const stored: StoredText = { type: 'text', at: size, length: bytes.length }
      blobs.push(bytes)
      size += bytes.length
      return stored
    }
    return value
  })
  const head = Buffer.from(json, 'utf8')
  const length = Buffer.alloc(4)
  length.writeUInt32BE(head.length)
  return Buffer.concat([MAGIC, length, head, ...blobs])
}

export function decodeDocument(buffer: Buffer): EsiDocument | undefined {
  if (buffer.length < 8 || !buffer.subarray(0, 4).equals(MAGIC)) return undefined
  const n = buffer.readUInt32BE(4)
  if (8 + n > buffer.length) return undefined
  const blob = buffer.subarray(8 + n)
  let isValid = true
  let doc: unknown
  try {
    doc = JSON.parse(buffer.toString('utf8', 8, 8 + n), (_key, value: unknown) => {
      if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'text' && typeof (value as StoredText).at === 'number') {
        const { at, length } = value as StoredText
        if (!Number.isInteger(at) || !Number.isInteger(length) || at < 0 || length < 0 || at + length > blob.length) { isValid = false; return value }
        return { type: 'text', bytes: blob.subarray(at, at + length) }
      }
      return value
    })
  } catch {
    return undefined
  }
  if (!isValid || !doc || typeof doc !== 'object' || !Array.isArray((doc as EsiDocument).nodes) || !Array.isArray((doc as EsiDocument).warnings)) return undefined
  return doc as EsiDocument
}

/** Total bytes of text in a node list (all branches), for size accounting. */
export function textBytes(nodes: readonly EsiNode[]): number {
  let total = 0
  for (const node of nodes) {
    if (node.type === 'text') total += node.bytes.length
    else if (node.type === 'try') total += textBytes(node.attempt) + textBytes(node.except)
    else if (node.type === 'choose') {
      for (const when of node.whens) total += textBytes(when.children)
      if (node.otherwise) total += textBytes(node.otherwise)
    }
  }
  return total
}
