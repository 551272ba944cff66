/**
 * Raw TCP helpers for scenario tests that must send or answer exact bytes: a client that
 * writes a request byte for byte and reads the first response, a loopback port that is known
 * to be closed, and a bare TCP "origin" that answers whatever a script says.
 */
import net from 'node:net'
import type { AddressInfo } from 'node:net'

export interface RawResponse {
  /** everything received until the server closed (or the timeout) */
  raw: string
  /** status code of the first response, 0 when none could be parsed */
  status: number
  /** header fields of the first response, names lower-cased (repeated lines joined with ", ") */
  headers: Record<string, string>
  /** whatever followed the first header section */
  body: string
  /** the connection ended with an error (e.g. ECONNRESET) rather than a clean close */
  error?: string
  /** the server had not closed the connection when the timeout fired */
  timedOut: boolean
}

/** Parses the first HTTP/1.x response out of raw bytes. */
export function parseRawResponse(raw: string): Pick<RawResponse, 'status' | 'headers' | 'body'> {
  const end = raw.indexOf('\r\n\r\n')
  const head = end >= 0 ? raw.slice(0, end) : raw
  const [statusLine = '', ...lines] = head.split('\r\n')
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const at = line.indexOf(':')
    if (at <= 0) continue
    const name = line.slice(0, at).trim().toLowerCase()
    const value = line.slice(at + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
  }
  return { status: m ? Number(m[1]) : 0, headers, body: end >= 0 ? raw.slice(end + 4) : '' }
}

/**
 * Connects to 127.0.0.1:port, writes `data` exactly, and collects what comes back until the
 * server closes the connection (or `timeoutMs` passes). Never rejects.
 */
export function rawExchange(port: number, data: string | Buffer, timeoutMs = 3000): Promise<RawResponse> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let error: string | undefined
    let timedOut = false
    let settled = false
    const socket = net.connect({ port, host: '127.0.0.1' })
    const finish = () => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      const raw = Buffer.concat(chunks).toString('latin1')
      resolve({ raw, ...parseRawResponse(raw), error, timedOut })
    }
    const timer = setTimeout(() => { timedOut = true; finish() }, timeoutMs)
    socket.on('connect', () => socket.write(data))
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', (err: NodeJS.ErrnoException) => { error = err.code ?? err.message; finish() })
    socket.on('end', finish)
    socket.on('close', finish)
  })
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export interface RawOrigin {
  url: string
  port: number
  /** request lines received ("GET /x HTTP/1.1"), in order */
  requestLines: string[]
  close(): Promise<void>
}

/**
 * A bare TCP origin: for each connection, waits for a whole request head, records its request
 * line and writes what `answer` returns for it (then closes the connection).
 */
export async function startRawOrigin(answer: (requestLine: string) => string | Buffer): Promise<RawOrigin> {
  const requestLines: string[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let received = ''
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1')
      const end = received.indexOf('\r\n\r\n')
      if (end < 0) return
      const requestLine = received.slice(0, received.indexOf('\r\n'))
      received = ''
      requestLines.push(requestLine)
      socket.end(answer(requestLine))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requestLines,
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    }),
  }
}

export interface ParsedResponse {
  status: number
  headers: Record<string, string>
  body: Buffer
  /** how the body was framed: by Content-Length, chunked, by the connection's end, or none */
  framing: 'length' | 'chunked' | 'close' | 'none'
}

/**
 * One client connection kept open across requests: write bytes, then read whole responses as a
 * client must frame them (RFC 9112 §6.3: no body for HEAD, 1xx, 204, 304; Content-Length;
 * chunked; else until close). For pipelining, keep-alive and framing tests.
 */
export class RawConnection {
  private buffer = Buffer.alloc(0)
  private waiter: (() => void) | undefined
  isClosed = false
  error: string | undefined
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => { this.buffer = Buffer.concat([this.buffer, chunk]); this.waiter?.() })
    socket.on('error', (err: NodeJS.ErrnoException) => { this.error = err.code ?? err.message })
    socket.on('close', () => { this.isClosed = true; this.waiter?.() })
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' }, () => resolve(new RawConnection(socket)))
      socket.once('error', reject)
    })
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
  }

  /** Reads the next response; `isHead`: it answers a HEAD (no body). Rejects on timeout or when the connection ends before a whole response. */
  async read(options: { isHead?: boolean; timeoutMs?: number } = {}): Promise<ParsedResponse> {
    const deadline = Date.now() + (options.timeoutMs ?? 3000)
    for (;;) {
      const parsed = this.tryParse(options.isHead ?? false)
      if (parsed) return parsed
      if (this.isClosed) throw new Error(`connection closed before a whole response; had ${JSON.stringify(this.buffer.toString('latin1').slice(0, 200))}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no whole response in time; had ${JSON.stringify(this.buffer.toString('latin1').slice(0, 200))}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiter = () => { clearTimeout(timer); this.waiter = undefined; resolve() }
      })
    }
  }

  /** Resolves true when the server closes the connection within `timeoutMs`. */
  async closes(timeoutMs = 2000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (!this.isClosed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    return this.isClosed
  }

  /** Bytes received and not yet read as a response. */
  get unread(): string {
    return this.buffer.toString('latin1')
  }

  destroy(): void {
    this.socket.destroy()
  }

  private tryParse(isHead: boolean): ParsedResponse | undefined {
    const end = this.buffer.indexOf('\r\n\r\n')
    if (end < 0) return undefined
    const { status, headers } = parseRawResponse(this.buffer.subarray(0, end + 4).toString('latin1'))
    const start = end + 4
    const take = (bodyEnd: number, body: Buffer, framing: ParsedResponse['framing']) => {
      this.buffer = this.buffer.subarray(bodyEnd)
      return { status, headers, body, framing }
    }
    if (isHead || status < 200 || status === 204 || status === 304) return take(start, Buffer.alloc(0), 'none')
    if (headers['transfer-encoding'] !== undefined) {
      const chunks: Buffer[] = []
      let at = start
      for (;;) {
        const lineEnd = this.buffer.indexOf('\r\n', at)
        if (lineEnd < 0) return undefined
        const size = parseInt(this.buffer.toString('latin1', at, lineEnd), 16)
        if (this.buffer.length < lineEnd + 2 + size + 2) return undefined
        if (size === 0) return take(lineEnd + 4, Buffer.concat(chunks), 'chunked')
        chunks.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size))
        at = lineEnd + 2 + size + 2
      }
    }
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length'])
      if (this.buffer.length < start + length) return undefined
      return take(start + length, this.buffer.subarray(start, start + length), 'length')
    }
    if (!this.isClosed) return undefined
    return take(this.buffer.length, this.buffer.subarray(start), 'close')
  }
}
