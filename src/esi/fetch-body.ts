/**
 * @module esi/fetch-body
 * The origin side of ESI: an ESI response's body is decoded (gzip, br, deflate: node:zlib)
 * and parsed as it streams (EsiParser.write per chunk), its top-level nodes published to the
 * clients waiting for it (esi/feed), and — when the response is stored — the parsed document
 * is what the store keeps (esi/codec), so the page is parsed once, not per request.
 */
import { pipeline, type Readable } from 'node:stream'
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib'
import type { ProxyContext } from '../context.js'
import { LacquerError } from '../errors.js'
import type { StoreWriter } from '../store/types.js'
import { encodeDocument } from './codec.js'
import type { EsiFeed } from './feed.js'
import { EsiParser } from './parser.js'
import type { EsiActivation } from './surrogate.js'

function decoderFor(coding: NonNullable<EsiActivation['coding']>) {
  return coding === 'gzip' ? createGunzip() : coding === 'br' ? createBrotliDecompress() : createInflate()
}

/**
 * Reads the whole body into the parser and the feed; returns the store writer still usable
 * (the encoded document written to it), or undefined. Throws on a broken body, a body that
 * does not decode, or one larger than the object size limit (ERR_ESI_TOO_LARGE): the caller
 * aborts the store write and fails the fetch.
 */
export async function consumeEsiBody(
  ctx: ProxyContext, key: string, body: Readable, activation: EsiActivation, feed: EsiFeed, writer: StoreWriter | undefined,
): Promise<StoreWriter | undefined> {
  const parser = new EsiParser()
  const source: Readable = activation.coding ? pipeline(body, decoderFor(activation.coding), () => {}) : body
  const maxBytes = ctx.config.store.maxObjectBytes
  let size = 0
  for await (const chunk of source as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBytes) {
      body.destroy()
      throw new LacquerError('ERR_ESI_TOO_LARGE', `${key}: the decoded ESI page is larger than ${maxBytes} bytes (store.maxObjectSize)`)
    }
    feed.push(parser.write(chunk))
  }
  const doc = parser.end()
  feed.push(parser.tail)
  if (doc.warnings.length) {
    ctx.observer.values.esiErrors += doc.warnings.length
    ctx.log('info', 'malformed ESI in a page: served as well as it could be', {
      key, warnings: doc.warnings.length, first: doc.warnings.slice(0, 5).map((w) => `${w.code} at ${w.offset}: ${w.message}`),
    })
  }
  if (writer && !writer.write(encodeDocument(doc))) return undefined
  return writer
}
