/**
 * @module http/h1-head
 * How Lacquer's HTTP/1.1 layer writes a response head: the status line, each field checked
 * (a CR or LF from an origin or a policy edit must never split the response), and the fields
 * the connection writes itself. `prepareHead` serialises a stored response's status line and
 * fields once, so that a hit adds only what changes per response (Age, Cache-Status, Date,
 * Connection) to a string already checked (fsm/deliver.ts keeps it with the object).
 */
import { STATUS_CODES } from 'node:http'
import type { ReadonlyHeaderList } from '../http-cache/header-list.js'
import { formatHttpDate } from '../http-cache/http-date.js'

/** RFC 9110 §5.1 token: what a field name may hold. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** RFC 9110 §5.5: what a field value may not hold (a CR or LF would split the response). */
export const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/
/** Fields the connection writes itself (RFC 9110 §7.6.1: hop-by-hop; the framing is ours). */
export const CONNECTION_FIELDS: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection'])

let dateSecond = -1
let dateValue = ''
/** RFC 9110 §6.6.1: an origin server with a clock sends Date; one value per second. */
export function currentDate(): string {
  const now = Date.now()
  const second = Math.floor(now / 1000)
  if (second !== dateSecond) { dateSecond = second; dateValue = formatHttpDate(now) }
  return dateValue
}

/** RFC 9112 §4: `HTTP/1.1 <status> <reason>` and CR LF; a reason that is not a valid field value is replaced by the standard one. */
export function statusLine(status: number, statusText: string): string {
  const reason = statusText && !INVALID_VALUE.test(statusText) ? statusText : (STATUS_CODES[status] ?? 'unknown')
  return `HTTP/1.1 ${status} ${reason}\r\n`
}

/** One field line; throws (as node's writeHead does) when the name is no token or the value holds a CR, LF or other CTL. */
export function checkedField(name: string, value: string): string {
  if (!TOKEN.test(name)) throw Object.assign(new TypeError(`invalid header field name ${JSON.stringify(name)}`), { code: 'ERR_INVALID_HTTP_TOKEN' })
  if (INVALID_VALUE.test(value)) throw Object.assign(new TypeError(`invalid character in header field ${JSON.stringify(name)}`), { code: 'ERR_INVALID_CHAR' })
  return `${name}: ${value}\r\n`
}

/** A response's status line and fields, serialised and checked once (see RawSink.sendPrepared). */
export interface PreparedHead {
  /** the status line and every field line, each ending in CR LF; no blank line yet */
  readonly text: string
  /** the fields hold a Date (else the connection adds one per response) */
  readonly hasDate: boolean
}

/**
 * The status line and fields as RawSink.send would write them, or undefined when they cannot
 * be prepared once: a field the connection writes itself (its value may end the connection),
 * or a field that is not valid HTTP (the per-response path then answers as it always did).
 */
export function prepareHead(status: number, statusText: string, headers: ReadonlyHeaderList): PreparedHead | undefined {
  let text = statusLine(status, statusText)
  let hasDate = false
  for (const [name, value] of headers) {
    if (CONNECTION_FIELDS.has(name)) return undefined
    if (name === 'date') hasDate = true
    try {
      text += checkedField(name, value)
    } catch {
      return undefined
    }
  }
  return { text, hasDate }
}
