/**
 * @module http/server
 * The only place that touches node:http server objects: parses and checks the request
 * (RFC 9112 framing is node's llhttp; Host, size and target checks are here), maps it to a
 * Transaction, and adapts ServerResponse to the state machine's ClientSink.
 */
import http from 'node:http'
import type { Socket } from 'node:net'
import type { ProxyContext } from '../context.js'
import { ERRORS, type ErrorCode } from '../errors.js'
import { type HeaderList, fromRaw, getAll, removeHeader, toRaw } from '../http-cache/header-list.js'
import { formatHttpDate } from '../http-cache/http-date.js'
import { runTransaction } from '../fsm/run.js'
import { type ClientSink, Transaction } from '../fsm/transaction.js'

/** RFC 9110 §7.2 / RFC 3986 §3.2.2: reg-name or IP literal, optional port. */
const HOST_PATTERN = /^(?:[a-zA-Z0-9\-._~!$&'()*+,;=%]+|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/

export function createHttpServer(ctx: ProxyContext): http.Server {
  const { limits } = ctx.config
  const server = http.createServer({
    maxHeaderSize: limits.maxHeaderBytes,
    // Lacquer checks Host itself, to answer with its own error code and a log line
    requireHostHeader: false,
    keepAlive: true,
    keepAliveTimeout: 5_000,
    headersTimeout: 30_000,
    // the whole request, body included: a client dribbling an upload cannot hold an origin connection forever
    requestTimeout: 60_000,
  })
  server.maxHeadersCount = limits.maxHeaderCount + 1
  server.on('request', (req, res) => handleRequest(ctx, req, res))
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => rejectMalformed(ctx, err, socket))
  // RFC 9110 §10.1.1: an expectation other than 100-continue cannot be met
  server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
    answerError(ctx, res, 'ERR_HTTP_EXPECTATION_FAILED', `Expect: ${req.headers.expect ?? ''} is not supported`)
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
  if (err.code === 'ECONNRESET' || !socket.writable || inProgress?.headersSent) { socket.destroy(); return }
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
  socket.end(`HTTP/1.1 ${statusCode} ${http.STATUS_CODES[statusCode]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n`
    + `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Status: ${ctx.config.name}; detail=BAD-REQUEST\r\nLacquer-Error: ${code}\r\n\r\n${body}`)
}

/** The request line is `token SP target SP HTTP/d.d`: only its method is unknown (then 501, not 400). */
function isWellFormedRequestLine(err: NodeJS.ErrnoException & { rawPacket?: Buffer }): boolean {
  const line = err.rawPacket?.subarray(0, 8192).toString('latin1').split('\n', 1)[0] ?? ''
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ \S+ HTTP\/\d\.\d\r?$/.test(line)
}

function answerError(ctx: ProxyContext, res: http.ServerResponse, code: ErrorCode, why: string): void {
  const { statusCode, message } = ERRORS[code]
  ctx.log('info', 'request rejected', { code, why })
  const body = `${statusCode} ${message}: ${why}\n`
  const { req } = res
  ctx.observer.refused(statusCode, req.socket.remoteAddress ?? '', req.method, req.url, req.headers.host, Buffer.byteLength(body))
  res.shouldKeepAlive = false
  res.writeHead(statusCode, {
    'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close',
    'cache-status': `${ctx.config.name}; detail=BAD-REQUEST`, 'lacquer-error': code, date: formatHttpDate(Date.now()),
  })
  res.end(body)
}

function handleRequest(ctx: ProxyContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  const { limits } = ctx.config
  const headers = fromRaw(req.rawHeaders)
  if (headers.length > limits.maxHeaderCount) return answerError(ctx, res, 'ERR_HTTP_HEADERS_TOO_LARGE', `more than ${limits.maxHeaderCount} header fields`)
  const url = req.url ?? ''
  if (Buffer.byteLength(url) > limits.maxUrlBytes) return answerError(ctx, res, 'ERR_HTTP_URI_TOO_LONG', `request target over ${limits.maxUrlBytes} bytes`)
  const codings = getAll(headers, 'transfer-encoding')
  if (codings.length > 0 && codings.join(',').split(',').pop()!.trim().toLowerCase() !== 'chunked') {
    // RFC 9112 §6.3: chunked must be the final coding of a request, else its length is unknowable
    return answerError(ctx, res, 'ERR_HTTP_BAD_REQUEST', 'Transfer-Encoding of a request must end in chunked')
  }
  const hosts = getAll(headers, 'host')
  const port = hosts.length === 1 ? /:(\d+)$/.exec(hosts[0]!)?.[1] : undefined
  if (hosts.length !== 1 || !HOST_PATTERN.test(hosts[0]!) || (port !== undefined && Number(port) > 65535)) return answerError(ctx, res, 'ERR_HTTP_BAD_HOST', 'exactly one valid Host field is required (RFC 9112 §3.2)')
  let path = url
  let host = hosts[0]!
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
        return answerError(ctx, res, 'ERR_HTTP_BAD_REQUEST', 'malformed absolute-form request target')
      }
    } else if (url === '*' && req.method === 'OPTIONS') {
      // RFC 9110 §9.3.7: a question about the server itself, answered by Lacquer
      res.writeHead(204, { allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS', date: formatHttpDate(Date.now()), 'cache-status': `${ctx.config.name}; fwd=method` })
      res.end()
      return
    } else {
      return answerError(ctx, res, 'ERR_HTTP_BAD_REQUEST', 'request target must be origin-form (/path) or absolute-form')
    }
  }
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined
  // X-Forwarded-Proto from a TLS terminator in front says the scheme; anything but http/https is dropped
  const forwardedProto = getAll(headers, 'x-forwarded-proto')
  const scheme = forwardedProto.length === 1 && forwardedProto[0]!.trim().toLowerCase() === 'https' ? 'https' : 'http'
  if (forwardedProto.length > 0) removeHeader(headers, 'x-forwarded-proto')
  const tx = new Transaction(
    ctx,
    { method: req.method ?? 'GET', path, host, scheme, headers, clientAddress: req.socket.remoteAddress ?? '', target: url, httpVersion: req.httpVersion },
    hasBody ? req : undefined,
    new ResponseSink(res),
  )
  if (!hasBody) req.resume()
  runTransaction(tx).catch((err) => {
    ctx.log('error', 'transaction failed', { error: (err as Error)?.stack ?? String(err) })
    res.destroy()
  })
}

/** ClientSink over node's ServerResponse. */
class ResponseSink implements ClientSink {
  status = 0
  bytesSent = 0
  constructor(private readonly res: http.ServerResponse) {}

  get isClosed(): boolean {
    return this.res.destroyed || this.res.writableEnded
  }

  send(status: number, statusText: string, headers: HeaderList, body: Buffer | undefined): void {
    if (this.isClosed) return
    this.writeHead(status, statusText, headers)
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
