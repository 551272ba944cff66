/**
 * @module http/server
 * The proxy port. Connections start on Lacquer's own HTTP/1.1 layer (http/h1-connection.ts),
 * which parses the common request (a GET or HEAD without a body) and writes responses with one
 * pre-built head. Any other request hands its connection to node's http server (llhttp), which
 * parses and checks it as RFC 9112 says and keeps the connection from then on (ADR 0009).
 * Both paths meet in admitRequest: Host, size and target checks, then a Transaction.
 */
import http from 'node:http'
import net, { type Socket } from 'node:net'
import { Readable } from 'node:stream'
import type { ProxyContext } from '../context.js'
import { ERRORS, type ErrorCode } from '../errors.js'
import { type HeaderList, fromRaw, getAll, removeHeader, toRaw } from '../http-cache/header-list.js'
import { formatHttpDate } from '../http-cache/http-date.js'
import { withoutHopByHop } from '../http-cache/invalidation.js'
import { runTransaction } from '../fsm/run.js'
import { type ClientSink, Transaction } from '../fsm/transaction.js'
import { type ConnectionHost, H1Connection } from './h1-connection.js'
import type { RequestHead } from './h1-parser.js'

/** RFC 9110 §7.2 / RFC 3986 §3.2.2: reg-name or IP literal, optional port. */
const HOST_PATTERN = /^(?:[a-zA-Z0-9\-._~!$&'()*+,;=%]+|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/

/** Idle time allowed between requests on a persistent connection. */
const KEEP_ALIVE_TIMEOUT_MS = 5_000
/** The whole request head must arrive within this (slowloris). */
const HEADERS_TIMEOUT_MS = 30_000

/** A request as either parser hands it over. */
export interface IncomingRequest {
  method: string
  /** the request target as received */
  target: string
  httpVersion: string
  headers: HeaderList
  remoteAddress: string
  /** the request's body, when it has one (node's parser only): whole, or streamed past the buffer limit */
  body: Buffer | Readable | undefined
}

export interface ProxyServer {
  /** the listening socket (what `listen()` and `address()` are called on) */
  readonly listener: net.Server
  /** Stops accepting, lets responses under way finish (idle connections close at once), then cuts what is left after `drainMs`. */
  close(drainMs: number): Promise<void>
}

export function createProxyServer(ctx: ProxyContext): ProxyServer {
  const fallback = createNodeServer(ctx)
  const connections = new Set<H1Connection>()
  const handedOver = new Set<Socket>()
  let isClosing = false
  const host: ConnectionHost = {
    maxHeaderBytes: ctx.config.limits.maxHeaderBytes,
    keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
    headersTimeoutMs: HEADERS_TIMEOUT_MS,
    get isClosing() { return isClosing },
    admit(head: RequestHead, sink: ClientSink, remoteAddress: string) {
      admitRequest(ctx, { method: head.method, target: head.target, httpVersion: head.httpVersion, headers: head.headers, remoteAddress, body: undefined }, sink)
    },
    handOver(socket: Socket) {
      handedOver.add(socket)
      socket.once('close', () => handedOver.delete(socket))
      fallback.emit('connection', socket)
    },
    rejectHead(socket: Socket) {
      rejectMalformed(ctx, Object.assign(new Error('request line without an HTTP version'), { code: 'HPE_INVALID_VERSION' }), socket)
    },
    headTimedOut(socket: Socket) {
      rejectMalformed(ctx, Object.assign(new Error('request head timed out'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket)
    },
    forget(connection: H1Connection) {
      connections.delete(connection)
    },
  }
  // half-open as node's own http server: a client's FIN after its request still gets the response
  const listener = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    if (isClosing) { socket.destroy(); return }
    connections.add(new H1Connection(socket, host))
  })
  // node's server tracks its connections (idle close, request timeouts) once it is "listening"
  listener.on('listening', () => fallback.emit('listening'))
  return {
    listener,
    close(drainMs) {
      isClosing = true
      return new Promise((resolve) => {
        const cutAll = () => {
          for (const connection of connections) connection.destroy()
          fallback.closeAllConnections()
          for (const socket of handedOver) socket.destroy()
        }
        const timer = setTimeout(cutAll, drainMs)
        timer.unref()
        const settled = () => {
          if (connections.size > 0 || handedOver.size > 0) return
          clearInterval(poll)
          clearTimeout(timer)
          resolve()
        }
        // a closed connection leaves the sets; poll rather than wiring every close
        const poll = setInterval(() => { fallback.closeIdleConnections(); settled() }, 20)
        listener.close(() => settled())
        for (const connection of connections) connection.close()
        fallback.close()
        fallback.closeIdleConnections()
      })
    },
  }
}

/** node's http server: never listens itself; it gets the connections whose requests Lacquer's parser left to it. */
function createNodeServer(ctx: ProxyContext): http.Server {
  const { limits } = ctx.config
  const server = http.createServer({
    maxHeaderSize: limits.maxHeaderBytes,
    // Lacquer checks Host itself, to answer with its own error code and a log line
    requireHostHeader: false,
    keepAlive: true,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    headersTimeout: HEADERS_TIMEOUT_MS,
    // the whole request, body included: a client dribbling an upload cannot hold an origin connection forever
    requestTimeout: 60_000,
  })
  server.maxHeadersCount = limits.maxHeaderCount + 1
  // a client's FIN after a complete request still gets the response (RFC 9112 §9.6); node's
  // default aborts the request under way (the property has no constructor option)
  ;(server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true
  server.on('request', (req, res) => handleNodeRequest(ctx, req, res))
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => rejectMalformed(ctx, err, socket))
  // RFC 9110 §10.1.1: an expectation other than 100-continue cannot be met
  server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
    answerError(ctx, toIncoming(req, undefined), new ResponseSink(res), 'ERR_HTTP_EXPECTATION_FAILED', `Expect: ${req.headers.expect ?? ''} is not supported`)
  })
  // CONNECT (tunnels) is for forward proxies: answered, never forwarded
  server.on('connect', (_req: http.IncomingMessage, socket: Socket) => {
    const err = Object.assign(new Error('CONNECT is not supported by a reverse proxy'), { code: 'CONNECT' })
    rejectMalformed(ctx, err, socket)
  })
  return server
}

function rejectMalformed(ctx: ProxyContext, err: NodeJS.ErrnoException, socket: Socket): void {
  // a response is already under way on this connection (answered before the parser failed on
  // the body): never write a second one, just close
  const inProgress = (socket as Socket & { _httpMessage?: http.ServerResponse })._httpMessage
  // the request under way failed in its body (a malformed chunk, or the client's side closed or
  // reset before the body was whole): it is answered, or given up, now; never after its timeout
  const pending = (inProgress as (http.ServerResponse & { req?: http.IncomingMessage }) | undefined)?.req
  if (inProgress && pending && !pending.complete && !inProgress.headersSent && err.code !== 'ERR_HTTP_REQUEST_TIMEOUT') {
    rejectBody(ctx, err, socket, inProgress, pending)
    return
  }
  if (err.code === 'ECONNRESET' || !socket.writable) { socket.destroy(); return }
  // the last answer on this connection said Connection: close: what follows it is ignored (RFC 9112 §9.6)
  if (closing.has(socket)) { socket.destroySoon(); return }
  if (inProgress && !inProgress.writableFinished && !(err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && !inProgress.headersSent)) {
    // a response to an earlier request is under way: it goes first (RFC 9112 §9.3.2); after a
    // response that closes the connection, what followed it is ignored (§9.6)
    const isLast = !inProgress.shouldKeepAlive || (inProgress as http.ServerResponse & { _last?: boolean })._last === true || closing.has(socket)
    const answerAfter = () => { if (!isLast && socket.writable) rejectMalformed(ctx, err, socket); else socket.destroySoon() }
    inProgress.once('finish', answerAfter)
    inProgress.once('close', () => { if (!inProgress.writableFinished) socket.destroy() })
    return
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && socket.bytesRead === 0) { socket.destroy(); return } // an idle connection: no answer owed
  const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'ERR_HTTP_HEADERS_TOO_LARGE'
    : err.code === 'HPE_URI_TOO_LONG' ? 'ERR_HTTP_URI_TOO_LONG'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'ERR_HTTP_REQUEST_TIMEOUT'
        // RFC 9110 §9.1: an unrecognised method (BAN, a lower-case purge) is 501, not a malformed request
        : err.code === 'HPE_INVALID_METHOD' && isWellFormedRequestLine(err) ? 'ERR_HTTP_METHOD_NOT_IMPLEMENTED' : 'ERR_HTTP_BAD_REQUEST'
  ctx.log('info', 'malformed request rejected', { code, parser: err.code, remote: socket.remoteAddress })
  const { statusCode, message } = ERRORS[code]
  const body = `${statusCode} ${message}\n`
  ctx.observer.refused(statusCode, socket.remoteAddress ?? '', undefined, undefined, undefined, Buffer.byteLength(body))
  socket.end(`HTTP/1.1 ${statusCode} ${http.STATUS_CODES[statusCode]}\r\nConnection: close\r\nDate: ${formatHttpDate(Date.now())}\r\nContent-Type: text/plain; charset=utf-8\r\n`
    + `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Status: ${ctx.config.name}; detail=BAD-REQUEST\r\nLacquer-Error: ${code}\r\n\r\n${body}`)
}

/**
 * A request whose body failed to arrive whole. While its body is still being read (the usual
 * case: up to REQUEST_BODY_BUFFER_BYTES, before any origin connection is taken), nothing was
 * forwarded: a malformed body gets its 400 (RFC 9112 §7.1) and the connection closes; a client
 * that closed its side mid-body is logged once, as 499 (nginx's "client closed request"), with
 * its method and URL. A body already streaming to the origin is cut there (the origin request
 * is aborted, never completed); that transaction answers and logs.
 */
function rejectBody(ctx: ProxyContext, err: NodeJS.ErrnoException, socket: Socket, res: http.ServerResponse, req: http.IncomingMessage): void {
  const clientLeft = err.code === 'HPE_INVALID_EOF_STATE' || err.code === 'ECONNRESET' || !socket.writable
  const isForwarding = !bufferingBody.has(req)
  if (clientLeft || isForwarding) {
    ctx.log('info', clientLeft ? 'client closed the connection before its request body was whole' : 'malformed request body',
      { method: req.method, url: req.url, remote: socket.remoteAddress, parser: err.code })
    if (clientLeft && !isForwarding) ctx.observer.refused(499, socket.remoteAddress ?? '', req.method, req.url, req.headers.host, 0)
    socket.destroy()
    return
  }
  answerError(ctx, toIncoming(req, undefined), new ResponseSink(res), 'ERR_HTTP_BAD_REQUEST', `malformed request body (${err.code ?? err.message}; RFC 9112 §7.1)`)
  // nothing more is read from this connection: the parser stopped at the error
  res.once('finish', () => socket.destroySoon())
}

/** The request line is `token SP target SP HTTP/d.d`: only its method is unknown (then 501, not 400). */
function isWellFormedRequestLine(err: NodeJS.ErrnoException & { rawPacket?: Buffer }): boolean {
  const line = err.rawPacket?.subarray(0, 8192).toString('latin1').split('\n', 1)[0] ?? ''
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ \S+ HTTP\/\d\.\d\r?$/.test(line)
}

function answerError(ctx: ProxyContext, incoming: IncomingRequest, sink: ClientSink, code: ErrorCode, why: string): void {
  const { statusCode, message } = ERRORS[code]
  ctx.log('info', 'request rejected', { code, why })
  const body = Buffer.from(`${statusCode} ${message}: ${why}\n`)
  ctx.observer.refused(statusCode, incoming.remoteAddress, incoming.method, incoming.target, getAll(incoming.headers, 'host')[0], body.length)
  sink.send(statusCode, '', [
    ['content-type', 'text/plain; charset=utf-8'], ['connection', 'close'],
    ['cache-status', `${ctx.config.name}; detail=BAD-REQUEST`], ['lacquer-error', code], ['date', formatHttpDate(Date.now())],
  ], body)
}

function toIncoming(req: http.IncomingMessage, body: Buffer | Readable | undefined): IncomingRequest {
  return {
    method: req.method ?? 'GET', target: req.url ?? '', httpVersion: req.httpVersion, headers: fromRaw(req.rawHeaders),
    remoteAddress: req.socket.remoteAddress ?? '', body,
  }
}

/** requests whose body is being read before the transaction starts (nothing forwarded yet) */
const bufferingBody = new WeakSet<http.IncomingMessage>()

/** Request bodies up to this size are read whole before they go to the origin. */
export const REQUEST_BODY_BUFFER_BYTES = 1024 * 1024

/**
 * The whole body when it ends within `limit` bytes (a Buffer: forwarded with Content-Length);
 * past the limit, a stream of what was read and the rest; undefined when the client went away.
 */
function bufferRequestBody(req: http.IncomingMessage, limit: number): Promise<Buffer | Readable | undefined> {
  bufferingBody.add(req)
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (result: Buffer | Readable | undefined) => {
      bufferingBody.delete(req)
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('close', onClose)
      resolve(result)
    }
    const onData = (chunk: Buffer) => {
      chunks.push(chunk)
      size += chunk.length
      if (size <= limit) return
      req.pause()
      done(Readable.from((async function* () {
        yield* chunks
        for await (const chunk of req) yield chunk as Buffer
      })(), { objectMode: false }))
    }
    const onEnd = () => done(Buffer.concat(chunks, size))
    const onClose = () => { if (!req.complete) done(undefined) }
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('close', onClose)
  })
}

/** The transaction under way on each connection node's parser has: pipelined requests run one after another. */
const underWay = new WeakMap<Socket, Promise<void>>()
/** connections whose last answer closes them: what was pipelined behind it is not run */
const closing = new WeakSet<Socket>()

function handleNodeRequest(ctx: ProxyContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined
  if (!hasBody) req.resume()
  const incoming = toIncoming(req, hasBody ? req : undefined)
  const run = async () => {
    // a request pipelined behind one answered with Connection: close is never run (RFC 9112 §9.6)
    if (closing.has(req.socket)) { req.resume(); return }
    const sink = new ResponseSink(res)
    // nginx's proxy_request_buffering: a body up to REQUEST_BODY_BUFFER_BYTES is read whole
    // (after the request's checks) before an origin connection is taken, so slow or stalled
    // uploads cannot hold them all
    const done = admitRequest(ctx, incoming, sink, hasBody ? () => bufferRequestBody(req, REQUEST_BODY_BUFFER_BYTES) : undefined)
    if (sink.closesConnection) closing.add(req.socket)
    await done
  }
  // RFC 9112 §9.3.2: pipelined requests may run in parallel only when all are safe; one at a
  // time is simpler and what the other layer does (a GET after a POST sees its invalidation)
  const previous = underWay.get(req.socket)
  const done = previous ? previous.then(run) : run()
  underWay.set(req.socket, done)
}

/** Checks what both parsers leave to Lacquer (field count, target size, framing, Host), then runs the transaction. */
function admitRequest(
  ctx: ProxyContext, incoming: IncomingRequest, sink: ClientSink, readBody?: () => Promise<Buffer | Readable | undefined>,
): Promise<void> | void {
  const { limits } = ctx.config
  const { headers, target: url } = incoming
  if (headers.length > limits.maxHeaderCount) return answerError(ctx, incoming, sink, 'ERR_HTTP_HEADERS_TOO_LARGE', `more than ${limits.maxHeaderCount} header fields`)
  // each UTF-16 unit is at most 3 UTF-8 bytes: only a long target needs counting
  if (url.length > limits.maxUrlBytes / 3 && Buffer.byteLength(url) > limits.maxUrlBytes) return answerError(ctx, incoming, sink, 'ERR_HTTP_URI_TOO_LONG', `request target over ${limits.maxUrlBytes} bytes`)
  // one pass over the fields for what is checked here
  let hostCount = 0
  let hostValue = ''
  let codings: string[] | undefined
  let forwardedProto: string[] | undefined
  for (const [name, value] of headers) {
    if (name === 'host') { if (hostCount++ === 0) hostValue = value }
    else if (name === 'transfer-encoding') (codings ??= []).push(value)
    else if (name === 'x-forwarded-proto') (forwardedProto ??= []).push(value)
  }
  // RFC 9110 §2.5: a major version other than 1 is not ours to answer (HTTP/2 arrives by its own preface)
  if (incoming.httpVersion !== '1.1' && incoming.httpVersion !== '1.0') return answerError(ctx, incoming, sink, 'ERR_HTTP_VERSION_NOT_SUPPORTED', `HTTP/${incoming.httpVersion}`)
  if (codings) {
    const list = codings.join(',').split(',').map((c) => c.trim().toLowerCase())
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing
    if (incoming.httpVersion === '1.0') return answerError(ctx, incoming, sink, 'ERR_HTTP_BAD_REQUEST', 'Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)')
    // RFC 9112 §6.3: chunked must be the final coding of a request, else its length is unknowable
    if (list[list.length - 1] !== 'chunked') return answerError(ctx, incoming, sink, 'ERR_HTTP_BAD_REQUEST', 'Transfer-Encoding of a request must end in chunked')
    // RFC 9112 §6.1: a coding the server does not understand is 501; Lacquer decodes only chunked
    const unknown = list.find((c) => c !== 'chunked')
    if (unknown !== undefined) return answerError(ctx, incoming, sink, 'ERR_HTTP_CODING_NOT_IMPLEMENTED', `Transfer-Encoding: ${unknown}`)
  }
  // RFC 9112 §3.2: a request target carries no fragment
  if (url.includes('#')) return answerError(ctx, incoming, sink, 'ERR_HTTP_BAD_REQUEST', 'a request target has no #fragment (RFC 9112 §3.2)')
  const port = hostCount === 1 ? /:(\d+)$/.exec(hostValue)?.[1] : undefined
  if (hostCount !== 1 || !HOST_PATTERN.test(hostValue) || (port !== undefined && Number(port) > 65535)) return answerError(ctx, incoming, sink, 'ERR_HTTP_BAD_HOST', 'exactly one valid Host field is required (RFC 9112 §3.2)')
  let path = url
  let host = hostValue
  if (!url.startsWith('/')) {
    // absolute-form (RFC 9112 §3.2.2): the target's authority replaces Host
    if (/^https?:\/\//i.test(url)) {
      try {
        const parsed = new URL(url)
        path = parsed.pathname + parsed.search
        host = parsed.host
        // RFC 9112 §3.2.2: the target's authority replaces the received Host, for the key and the origin alike
        for (const field of headers) if (field[0] === 'host') field[1] = host
      } catch {
        return answerError(ctx, incoming, sink, 'ERR_HTTP_BAD_REQUEST', 'malformed absolute-form request target')
      }
    } else if (url === '*' && incoming.method === 'OPTIONS') {
      // RFC 9110 §9.3.7: a question about the server itself, answered by Lacquer
      sink.send(204, '', [['allow', 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS'], ['date', formatHttpDate(Date.now())], ['cache-status', `${ctx.config.name}; fwd=method`]], undefined)
      return
    } else {
      return answerError(ctx, incoming, sink, 'ERR_HTTP_BAD_REQUEST', 'request target must be origin-form (/path) or absolute-form')
    }
  }
  // X-Forwarded-Proto from a TLS terminator in front says the scheme; anything but http/https is dropped
  const scheme = forwardedProto?.length === 1 && forwardedProto[0]!.trim().toLowerCase() === 'https' ? 'https' : 'http'
  if (forwardedProto) removeHeader(headers, 'x-forwarded-proto')
  // RFC 9110 §7.6.1: the fields meant for this hop (and those `Connection` names) go now, so the
  // key and the variant are chosen from the request as it will be forwarded
  const request = {
    method: incoming.method, path, host, scheme, headers: withoutHopByHop(headers), clientAddress: incoming.remoteAddress, target: url, httpVersion: incoming.httpVersion,
  } as const
  if (!readBody) return run(ctx, new Transaction(ctx, request, incoming.body, sink))
  return readBody().then((body) => {
    // undefined: the client went away before its body was whole, or node answered 408
    if (body !== undefined) return run(ctx, new Transaction(ctx, request, body, sink))
  })
}

function run(ctx: ProxyContext, tx: Transaction): Promise<void> {
  return runTransaction(tx).catch((err) => {
    ctx.log('error', 'transaction failed', { error: (err as Error)?.stack ?? String(err) })
    tx.sink.abort()
  })
}

/** ClientSink over node's ServerResponse. */
class ResponseSink implements ClientSink {
  status = 0
  bytesSent = 0
  /** the answer said Connection: close */
  closesConnection = false
  constructor(private readonly res: http.ServerResponse) {}

  get isClosed(): boolean {
    return this.res.destroyed || this.res.writableEnded
  }

  send(status: number, statusText: string, headers: HeaderList, body: Buffer | undefined): void {
    if (this.isClosed) return
    this.writeHead(status, statusText, headers)
    if (headers.some(([name, value]) => name === 'connection' && value === 'close')) this.closesConnection = true
    if (body) this.bytesSent += body.length
    this.res.end(body)
  }

  start(status: number, statusText: string, headers: HeaderList): void {
    if (this.isClosed) return
    this.writeHead(status, statusText, headers)
  }

  write(chunk: Buffer): void {
    if (this.isClosed) return
    this.bytesSent += chunk.length
    this.res.write(chunk)
  }

  end(): void {
    if (!this.isClosed) this.res.end()
  }

  abort(): void {
    this.res.destroy()
  }

  informational(status: number, headers: HeaderList): void {
    if (this.isClosed || this.res.headersSent) return
    if (status === 103) {
      const hints: Record<string, string | string[]> = {}
      for (const [name, line] of headers) {
        // node checks each Link value alone: split a combined line at the commas between members
        const values = name === 'link' ? line.split(/,\s*(?=<)/) : [line]
        const previous = hints[name]
        hints[name] = previous === undefined ? (values.length === 1 ? values[0]! : values)
          : [...(Array.isArray(previous) ? previous : [previous]), ...values]
      }
      this.res.writeEarlyHints(hints)
    } else if (status === 102) {
      this.res.writeProcessing()
    }
  }

  onClose(listener: () => void): void {
    this.res.once('close', listener)
  }

  private writeHead(status: number, statusText: string, headers: HeaderList): void {
    this.status = status
    const text = statusText && /^[\t\x20-\x7e\x80-\xff]*$/.test(statusText) ? statusText : undefined
    this.res.writeHead(status, text, toRaw(headers))
  }
}
