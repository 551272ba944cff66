/**
 * @module http/h1-connection
 * Lacquer's own HTTP/1.1 connection: reads request heads with http/h1-parser.ts, answers them
 * one at a time (pipelined requests wait their turn, RFC 9112 §9.3.2), and writes responses
 * with one pre-built head per response (RawSink). A request outside the parser's subset hands
 * the connection, with its unread bytes, to node's http server for good (http/server.ts).
 *
 *   idle ──data──▶ head (part of a head) ──complete──▶ busy ──response done──▶ idle
 *     │               │ timeout: 408                      │ not persistent / server closing
 *     │               ▼                                   ▼
 *     └─ not in the subset ──▶ handed-over            closing ──▶ closed
 */
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { ClientSink } from '../fsm/transaction.js'
import type { HeaderList } from '../http-cache/header-list.js'
import { CONNECTION_FIELDS, type PreparedHead, checkedField, currentDate, statusLine } from './h1-head.js'
import { type RequestHead, parseRequestHead } from './h1-parser.js'

export const CONNECTION_STATES = ['idle', 'head', 'busy', 'closing', 'handed-over', 'closed'] as const
export type ConnectionState = (typeof CONNECTION_STATES)[number]

/** What a connection needs from the server that accepted it. */
export interface ConnectionHost {
  readonly maxHeaderBytes: number
  readonly keepAliveTimeoutMs: number
  readonly headersTimeoutMs: number
  /** true once the server is closing: responses end their connection */
  readonly isClosing: boolean
  /** a parsed request: run it, answering through `sink` */
  admit(head: RequestHead, sink: ClientSink, remoteAddress: string): void
  /** a request outside the subset: node's http server takes the socket (the unread bytes are back in it) */
  handOver(socket: Socket): void
  /** a request line with no HTTP version (HTTP/0.9): answer 400 and close (node's parser would wait for more) */
  rejectHead(socket: Socket): void
  /** a head not completed within headersTimeout: answer 408 and close */
  headTimedOut(socket: Socket): void
  forget(connection: H1Connection): void
}

const HEAD_END = Buffer.from('\r\n\r\n')

export class H1Connection {
  state: ConnectionState = 'idle'
  /** bytes received and not yet parsed (pipelined requests, a head in parts) */
  private pending: Buffer | undefined
  private headTimer: NodeJS.Timeout | undefined
  private current: RawSink | undefined
  private isParsing = false
  /** the client sent FIN: no more requests will come */
  private isReadEnded = false
  /** read once: each read of socket.remoteAddress is a getpeername(2) */
  private readonly remoteAddress: string

  constructor(readonly socket: Socket, private readonly host: ConnectionHost) {
    this.remoteAddress = socket.remoteAddress ?? ''
    socket.setNoDelay(true)
    // RFC 9112 §9.5: an idle persistent connection may be closed; between requests only
    socket.setTimeout(host.keepAliveTimeoutMs)
    socket.on('data', this.onData)
    // the server allows half-open connections: a client may send its request and FIN, and still
    // gets its response (RFC 9112 §9.6)
    socket.on('end', this.onEnd)
    socket.on('timeout', this.onInactive)
    socket.on('error', ignore) // 'close' follows
    socket.on('close', this.onClose)
  }

  /** The response under way is complete; the next request (already received or still to come) may be read. */
  responseDone(keepAlive: boolean): void {
    this.current = undefined
    if (this.state !== 'busy') return
    if (!keepAlive || this.host.isClosing) {
      this.state = 'closing'
      this.socket.end()
      return
    }
    this.state = 'idle'
    if (this.socket.isPaused()) this.socket.resume()
    // a response sent from inside admit() (a hit is synchronous) returns to the parse loop
    if (!this.isParsing) this.parse()
    else if (this.isReadEnded && this.pending === undefined) this.endAfterLastResponse()
  }

  /** The server is closing: an idle connection ends now, a busy one after its response. */
  close(): void {
    if (this.state === 'idle' || this.state === 'head') {
      this.state = 'closing'
      this.socket.end()
    }
  }

  destroy(): void {
    this.socket.destroy()
  }

  get isServerClosing(): boolean {
    return this.host.isClosing
  }

  private readonly onData = (chunk: Buffer): void => {
    this.pending = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk])
    if (this.state === 'busy') {
      // pipelined requests wait; past one head's worth, stop reading until this response is done
      if (this.pending.length > this.host.maxHeaderBytes) this.socket.pause()
      return
    }
    if (this.state === 'idle' || this.state === 'head') this.parse()
  }

  private parse(): void {
    this.isParsing = true
    try {
      while (this.pending !== undefined && (this.state === 'idle' || this.state === 'head')) {
        const buffer = this.pending!
        const end = buffer.indexOf(HEAD_END)
        if (end < 0 ? buffer.length > this.host.maxHeaderBytes : end > this.host.maxHeaderBytes) return this.handOver()
        if (end < 0) {
          // a line not ended by CR LF, or a first line that is no request line of the subset:
          // node's parser answers it now rather than this one waiting for a CR LF CR LF
          if (hasVersionlessRequestLine(buffer)) { this.state = 'closing'; this.host.rejectHead(this.socket); return }
          if (!isPlausibleHeadStart(buffer)) return this.handOver()
          return this.awaitRestOfHead()
        }
        const head = parseRequestHead(buffer.toString('latin1', 0, end))
        if (!head) return this.handOver()
        this.pending = end + 4 < buffer.length ? buffer.subarray(end + 4) : undefined
        this.clearHeadTimer()
        this.state = 'busy'
        this.current = new RawSink(this, head)
        this.host.admit(head, this.current, this.remoteAddress)
      }
    } finally {
      this.isParsing = false
    }
    if (this.isReadEnded && this.state !== 'busy') this.endAfterLastResponse()
  }

  private readonly onEnd = (): void => {
    this.isReadEnded = true
    if (this.state === 'idle' || this.state === 'head') this.endAfterLastResponse()
  }

  /** The client will send nothing more: once no response is under way, close our side too. */
  private endAfterLastResponse(): void {
    if (this.state === 'handed-over' || this.state === 'closing' || this.state === 'closed') return
    this.clearHeadTimer()
    this.state = 'closing'
    this.socket.end()
  }

  private awaitRestOfHead(): void {
    if (this.state === 'head') return
    this.state = 'head'
    // RFC 9112 §9.5 / slowloris: the whole head within headersTimeout, however slowly it trickles
    this.headTimer = setTimeout(() => {
      this.headTimer = undefined
      if (this.state !== 'head') return
      this.state = 'closing'
      this.host.headTimedOut(this.socket)
    }, this.host.headersTimeoutMs)
    this.headTimer.unref()
  }

  private clearHeadTimer(): void {
    if (this.headTimer) clearTimeout(this.headTimer)
    this.headTimer = undefined
  }

  private handOver(): void {
    this.clearHeadTimer()
    this.state = 'handed-over'
    const { socket } = this
    socket.off('data', this.onData)
    socket.off('end', this.onEnd)
    socket.off('timeout', this.onInactive)
    socket.off('close', this.onClose)
    socket.off('error', ignore)
    socket.setTimeout(0)
    if (this.pending) socket.unshift(this.pending)
    this.pending = undefined
    this.host.forget(this)
    this.host.handOver(socket)
  }

  private readonly onInactive = (): void => {
    // only an idle connection times out; a request waiting on a slow origin does not
    if (this.state === 'idle' && this.pending === undefined) this.socket.destroy()
  }

  private readonly onClose = (): void => {
    this.state = 'closed'
    this.clearHeadTimer()
    this.host.forget(this)
    this.current?.connectionClosed()
  }
}

function ignore(): void {}

const LF = 0x0a
const CR = 0x0d
/** RFC 9112 §2.3: the first line is complete and names no HTTP version (`GET /path`, HTTP/0.9). */
function hasVersionlessRequestLine(buffer: Buffer): boolean {
  const lineEnd = buffer.indexOf('\r\n')
  return lineEnd > 0 && !/ HTTP\/\d/.test(buffer.toString('latin1', 0, lineEnd))
}

/** The first line is a request line of the subset so far, and every line break is CR LF. */
function isPlausibleHeadStart(buffer: Buffer): boolean {
  for (let at = buffer.indexOf(LF); at >= 0; at = buffer.indexOf(LF, at + 1)) {
    if (at === 0 || buffer[at - 1] !== CR) return false
  }
  const lineEnd = buffer.indexOf('\r\n')
  return lineEnd < 0 || parseRequestHead(buffer.toString('latin1', 0, lineEnd)) !== undefined
}

/**
 * A head and body up to this size together are copied into one buffer and sent in one write
 * (node's Buffer pool serves allocations under 4 KB; a larger copy costs an allocation of its
 * own); larger ones go as two corked writes (one writev).
 */
const COPY_LIMIT = 4 * 1024 - 1

/**
 * A ClientSink writing HTTP/1.1 straight to the socket. The body is framed by Content-Length
 * when known, else chunked (HTTP/1.1) or by closing the connection (HTTP/1.0). A body that ends
 * short of its Content-Length ends the connection: it never looks whole (RFC 9112 §6.3).
 */
class RawSink implements ClientSink {
  status = 0
  bytesSent = 0
  private isDone = false
  private readonly isHeadRequest: boolean
  private keepAlive: boolean
  private readonly isHttp10: boolean
  private hasBody = true
  private isChunked = false
  /** body bytes still owed by Content-Length; -1 when the length is not announced */
  private remaining = -1
  private listeners: Array<() => void> | undefined
  /** a streamed response's head, until its first chunk or the end of this event loop turn */
  private pendingHead: string | undefined

  constructor(private readonly connection: H1Connection, head: RequestHead) {
    this.isHeadRequest = head.method === 'HEAD'
    this.keepAlive = head.keepAlive
    this.isHttp10 = head.httpVersion === '1.0'
  }

  get isClosed(): boolean {
    return this.isDone || this.connection.socket.destroyed
  }

  send(status: number, statusText: string, headers: HeaderList, body: Buffer | undefined): void {
    if (this.isClosed) return
    this.hasBody = !this.isHeadRequest && status >= 200 && status !== 204 && status !== 304
    const length = this.hasBody ? (body?.length ?? 0) : -1
    this.writeWhole(this.serialize(status, statusText, headers, length), body)
  }

  /**
   * A stored response whose status line and fields were serialised once (`prepareHead`), its
   * Content-Length among them: `fields` adds the lines that change per response (Age,
   * Cache-Status); Date when the prepared fields have none, Connection and the blank line
   * are added here. Statuses with a body only (not 1xx, 204, 304).
   */
  sendPrepared(status: number, head: PreparedHead, fields: string, body: Buffer | undefined): void {
    if (this.isClosed) return
    this.hasBody = !this.isHeadRequest
    if (this.connection.isServerClosing) this.keepAlive = false
    const date = head.hasDate ? '' : `date: ${currentDate()}\r\n`
    const end = !this.keepAlive ? 'connection: close\r\n\r\n' : this.isHttp10 ? 'connection: keep-alive\r\n\r\n' : '\r\n'
    this.status = status
    this.writeWhole(head.text + fields + date + end, body)
  }

  /** A whole response: its head, and its body unless it has none (HEAD, 204, 304). */
  private writeWhole(head: string, body: Buffer | undefined): void {
    const { socket } = this.connection
    const length = this.hasBody && body ? body.length : 0
    if (length === 0) {
      socket.write(head, 'latin1')
    } else if (head.length + length <= COPY_LIMIT) {
      socket.write(joined(head, body!))
    } else {
      socket.cork()
      socket.write(head, 'latin1')
      socket.write(body!)
      socket.uncork()
    }
    this.bytesSent += length
    this.complete()
  }

  start(status: number, statusText: string, headers: HeaderList): void {
    if (this.isClosed) return
    this.hasBody = !this.isHeadRequest && status >= 200 && status !== 204 && status !== 304
    // the head waits for the first chunk (usually in the same packet from the origin) to go out
    // in one write with it; at the latest at the end of this turn of the event loop. A body
    // already there is written before the microtasks run: then no timer is armed at all
    this.pendingHead = this.serialize(status, statusText, headers, undefined)
    queueMicrotask(() => { if (this.pendingHead !== undefined) setImmediate(() => this.flushHead()) })
  }

  write(chunk: Buffer): void {
    if (this.isClosed || !this.hasBody || chunk.length === 0) return
    const { socket } = this.connection
    if (!this.isChunked && this.remaining >= 0 && chunk.length > this.remaining) return this.abort() // more than announced: never desynchronise the connection
    const head = this.pendingHead
    this.pendingHead = undefined
    if (head !== undefined && !this.isChunked && head.length + chunk.length <= COPY_LIMIT) {
      socket.write(joined(head, chunk))
    } else {
      socket.cork()
      if (head !== undefined) socket.write(head, 'latin1')
      if (this.isChunked) socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1')
      socket.write(chunk)
      if (this.isChunked) socket.write('\r\n', 'latin1')
      socket.uncork()
    }
    if (this.remaining >= 0) this.remaining -= chunk.length
    this.bytesSent += chunk.length
  }

  end(): void {
    if (this.isClosed) return
    if (this.hasBody && this.remaining > 0) return this.abort()
    const tail = this.hasBody && this.isChunked ? '0\r\n\r\n' : ''
    const head = this.pendingHead ?? ''
    this.pendingHead = undefined
    if (head || tail) this.connection.socket.write(head + tail, 'latin1')
    if (this.hasBody && this.remaining < 0 && !this.isChunked) this.keepAlive = false // close-delimited (HTTP/1.0)
    this.complete()
  }

  private flushHead(): void {
    const head = this.pendingHead
    this.pendingHead = undefined
    if (head !== undefined && !this.connection.socket.destroyed) this.connection.socket.write(head, 'latin1')
  }

  abort(): void {
    if (this.isDone) return
    this.isDone = true
    this.connection.socket.destroy()
    this.notifyClosed()
  }

  informational(status: number, headers: HeaderList): void {
    // RFC 9110 §15.2: never a 1xx to an HTTP/1.0 client; only 102 and 103 are relayed (100 and 101 are hop-by-hop)
    if (this.isClosed || this.status !== 0 || this.isHttp10 || (status !== 102 && status !== 103)) return
    let out = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Informational'}\r\n`
    for (const [name, value] of headers) out += checkedField(name, value)
    this.connection.socket.write(`${out}\r\n`, 'latin1')
  }

  onClose(listener: () => void): void {
    if (this.isClosed) { process.nextTick(listener); return }
    ;(this.listeners ??= []).push(listener)
  }

  connectionClosed(): void {
    if (this.isDone) return
    this.isDone = true
    this.notifyClosed()
  }

  /**
   * The status line and fields, checked (a CR or LF from a policy edit must not split the
   * response: it throws, as node's writeHead does, and the state machine answers 500).
   * `length`: the body's length when it is sent whole; undefined when streamed.
   */
  private serialize(status: number, statusText: string, headers: HeaderList, length: number | undefined): string {
    let out = statusLine(status, statusText)
    let hasDate = false
    let contentLength: string | undefined
    for (const [name, value] of headers) {
      if (CONNECTION_FIELDS.has(name)) {
        if (name === 'connection' && /(?:^|,)\s*close\s*(?:,|$)/i.test(value)) this.keepAlive = false
        continue
      }
      if (name === 'content-length') {
        if (length !== undefined && length >= 0) continue // the body's own length is written below
        contentLength = value
      } else if (name === 'date') {
        hasDate = true
      }
      out += checkedField(name, value)
    }
    if (!hasDate) out += `date: ${currentDate()}\r\n`
    if (length !== undefined && length >= 0) {
      out += `content-length: ${length}\r\n`
    } else if (length === undefined && this.hasBody) {
      // a streamed body: its announced length, else chunks (HTTP/1.1), else the connection's end (HTTP/1.0)
      if (contentLength !== undefined && /^\d+$/.test(contentLength)) this.remaining = Number(contentLength)
      else if (!this.isHttp10) { this.isChunked = true; out += 'transfer-encoding: chunked\r\n' }
      else this.keepAlive = false
    }
    if (this.connection.isServerClosing) this.keepAlive = false
    if (!this.keepAlive) out += 'connection: close\r\n'
    else if (this.isHttp10) out += 'connection: keep-alive\r\n'
    this.status = status
    return `${out}\r\n`
  }

  private complete(): void {
    this.isDone = true
    this.notifyClosed()
    this.connection.responseDone(this.keepAlive)
  }

  private notifyClosed(): void {
    const listeners = this.listeners
    this.listeners = undefined
    if (listeners) for (const listener of listeners) listener()
  }
}

/** The head and a small body in one buffer: one write, one syscall. */
function joined(head: string, body: Buffer): Buffer {
  const headLength = head.length // latin1: one byte per character
  const out = Buffer.allocUnsafe(headLength + body.length)
  out.write(head, 0, headLength, 'latin1')
  body.copy(out, headLength)
  return out
}
