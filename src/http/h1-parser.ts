/**
 * @module http/h1-parser
 * A strict parser for the common HTTP/1.1 request head: a GET or HEAD in origin-form, HTTP/1.0
 * or 1.1, well-formed field lines, no body. It accepts a strict subset of RFC 9112 and returns
 * `undefined` for everything else: those requests go to node's own parser (llhttp, in
 * http/server.ts), which answers every malformed or unusual request exactly as before.
 * The subset carries no body, so request framing (RFC 9112 §6) is never this parser's to judge:
 * nothing here can desynchronise a connection (request smuggling needs a body).
 */
import type { HeaderList } from '../http-cache/header-list.js'

export interface RequestHead {
  method: 'GET' | 'HEAD'
  /** origin-form target, as received */
  target: string
  /** '1.0' or '1.1' */
  httpVersion: string
  headers: HeaderList
  /** RFC 9112 §9.3: the connection persists after this response */
  keepAlive: boolean
}

/** RFC 9112 §3: method SP origin-form SP HTTP-version; visible ASCII only in the target (§3.2.1, RFC 3986). */
const REQUEST_LINE = /^(GET|HEAD) (\/[\x21-\x7e]*) HTTP\/1\.([01])$/
/** RFC 9112 §5: field-name ":" OWS field-value OWS; no whitespace before the colon (§5.1), no obs-fold (§5.2), no CTL but HTAB (RFC 9110 §5.5). */
const FIELD_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\t\x20-\x7e\x80-\xff]*?)[ \t]*$/

/** Field names whose presence takes the request off the fast path: node's parser knows what they mean for framing and upgrades. */
const HANDED_OVER_FIELDS = new Set(['transfer-encoding', 'expect', 'upgrade', 'http2-settings'])

/**
 * Parses the head in `head` (latin1, without the final empty line). `undefined`: not in the
 * subset; node's parser must see the bytes.
 */
export function parseRequestHead(head: string): RequestHead | undefined {
  let lineEnd = head.indexOf('\r\n')
  const requestLine = REQUEST_LINE.exec(lineEnd < 0 ? head : head.slice(0, lineEnd))
  if (!requestLine) return undefined
  const httpVersion = requestLine[3] === '1' ? '1.1' : '1.0'
  const headers: HeaderList = []
  let connection: string | undefined
  while (lineEnd >= 0) {
    const start = lineEnd + 2
    lineEnd = head.indexOf('\r\n', start)
    const line = FIELD_LINE.exec(lineEnd < 0 ? head.slice(start) : head.slice(start, lineEnd))
    if (!line) return undefined
    const name = line[1]!.toLowerCase()
    const value = line[2]!
    if (HANDED_OVER_FIELDS.has(name)) return undefined
    // RFC 9112 §6.3: a body announced by Content-Length is for node's parser to read
    if (name === 'content-length' && value !== '0') return undefined
    if (name === 'connection') connection = connection === undefined ? value : `${connection},${value}`
    headers.push([name, value])
  }
  return { method: requestLine[1] as 'GET' | 'HEAD', target: requestLine[2]!, httpVersion, headers, keepAlive: isPersistent(httpVersion, connection) }
}

/** RFC 9112 §9.3: HTTP/1.1 persists unless `close`; HTTP/1.0 only with `keep-alive` (§C.2.2). */
function isPersistent(httpVersion: string, connection: string | undefined): boolean {
  if (connection === undefined) return httpVersion === '1.1'
  const options = connection.toLowerCase().split(',').map((o) => o.trim())
  if (options.includes('close')) return false
  return httpVersion === '1.1' || options.includes('keep-alive')
}
