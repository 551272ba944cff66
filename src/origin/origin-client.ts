/**
 * @module origin/origin-client
 * HTTP/1.1 to the origin over undici keep-alive pools (TCP or a Unix socket). Never retries:
 * a failed request is reported, and the fetch side decides. The only place that imports undici.
 */
import { type Dispatcher, Pool, errors as undiciErrors, util as undiciUtil } from 'undici'
import { Readable } from 'node:stream'
import { LacquerError } from '../errors.js'
import type { HeaderList } from '../http-cache/header-list.js'

const { headerNameToString } = undiciUtil

export interface OriginOptions {
  /** `http://host:port` or `unix:/path/to.sock` */
  url: string
  connections: number
  connectTimeoutMs: number
  /** time to the response head */
  firstByteTimeoutMs: number
  /** longest pause between two body chunks */
  betweenBytesTimeoutMs: number
}

export interface OriginRequest {
  method: string
  path: string
  headers: HeaderList
  body?: Buffer | Readable
  /** the cache key of the fetch: what the hash director hashes (default: the path) */
  key?: string
  /** called for each 1xx interim response (RFC 9110 §15.2) before the final one */
  onInformational?: (status: number, headers: HeaderList) => void
}

export interface OriginResponse {
  status: number
  statusText: string
  headers: HeaderList
  body: OriginBody
}

/**
 * A response body as undici delivers it, without a stream in between: chunks go straight to
 * one consumer (the fetch tees them to clients and the store). `toReadable()` gives a stream
 * for the consumers that need one (ESI's decoders).
 */
export class OriginBody {
  private pending: Buffer[] | undefined = []
  private consumer: ((chunk: Buffer) => boolean | void) | undefined
  private settle: { resolve: () => void; reject: (err: Error) => void } | undefined
  private state: 'open' | 'ended' | 'failed' | 'destroyed' = 'open'
  private error: Error | undefined
  private closeListeners: Array<() => void> | undefined
  /** set by the client: aborts the origin request */
  abort: ((err: Error) => void) | undefined
  /** set by the client: resumes reading after a consumer asked to pause */
  resumeReading: (() => void) | undefined

  /** @param onClosed called once, when the body ended, failed or was destroyed (the connection is free again) */
  constructor(private onClosed?: (isAnswered: boolean) => void) {}

  /** the consumer's chunk callback returns false to pause the origin connection until resumeReading */
  consume(onData: (chunk: Buffer) => boolean | void): Promise<void> {
    this.consumer = onData
    const pending = this.pending!
    this.pending = undefined
    for (const chunk of pending) onData(chunk)
    if (this.state === 'ended') return Promise.resolve()
    if (this.state !== 'open') return Promise.reject(this.error ?? new Error('origin body destroyed'))
    return new Promise((resolve, reject) => { this.settle = { resolve, reject } })
  }

  /** reads and drops the body (the connection goes back to the pool when it ends) */
  resume(): void {
    if (this.consumer) return
    this.consume(() => {}).catch(() => {})
  }

  /** a stream of the body; destroying it aborts the origin request */
  toReadable(): Readable {
    const readable = new Readable({
      read: () => this.resumeReading?.(),
      destroy: (err, callback) => { this.destroy(err ?? undefined); callback(err) },
    })
    this.consume((chunk) => readable.push(chunk)).then(() => readable.push(null), (err: Error) => readable.destroy(err))
    return readable
  }

  destroy(err?: Error): void {
    if (this.state !== 'open') return
    this.state = 'destroyed'
    this.error = err
    this.abort?.(err ?? new Error('origin body destroyed'))
    this.settle?.reject(err ?? new Error('origin body destroyed'))
    this.closed()
  }

  /** once, when the body ended, failed or was destroyed (the connection is free again) */
  onClose(listener: () => void): void {
    if (this.state !== 'open') { listener(); return }
    ;(this.closeListeners ??= []).push(listener)
  }

  get isOpen(): boolean {
    return this.state === 'open'
  }

  /** @internal undici's side */
  push(chunk: Buffer): boolean {
    if (this.state !== 'open') return false
    if (this.consumer) return this.consumer(chunk) !== false
    this.pending!.push(chunk)
    return true
  }

  /** @internal */
  end(): void {
    if (this.state !== 'open') return
    this.state = 'ended'
    this.settle?.resolve()
    this.closed()
  }

  /** @internal */
  fail(err: Error): void {
    if (this.state !== 'open') return
    this.state = 'failed'
    this.error = err
    this.settle?.reject(err)
    this.closed()
  }

  private closed(): void {
    // what a finished body held goes: the fetch's callbacks are not kept alive by undici's objects
    if (this.consumer) this.consumer = ignoreChunk
    this.settle = undefined
    this.abort = undefined
    this.resumeReading = undefined
    const onClosed = this.onClosed
    this.onClosed = undefined
    onClosed?.(true)
    const listeners = this.closeListeners
    this.closeListeners = undefined
    if (listeners) for (const listener of listeners) listener()
  }
}

function ignoreChunk(): boolean {
  return false
}

export class OriginClient {
  readonly url: string
  private readonly pool: Pool

  constructor(options: OriginOptions) {
    this.url = options.url
    const common = {
      connections: options.connections,
      headersTimeout: options.firstByteTimeoutMs,
      bodyTimeout: options.betweenBytesTimeoutMs,
      connectTimeout: options.connectTimeoutMs,
      keepAliveTimeout: 4_000,
      pipelining: 1,
    }
    if (options.url.startsWith('unix:')) {
      this.pool = new Pool('http://localhost', { ...common, socketPath: options.url.slice('unix:'.length) })
    } else {
      this.pool = new Pool(new URL(options.url).origin, common)
    }
  }

  /**
   * Resolves with the response head (the body streams on); rejects with a LacquerError.
   * `settled` is called once: with false when no response came, with true when its body closed.
   */
  request(req: OriginRequest, settled?: (isAnswered: boolean) => void): Promise<OriginResponse> {
    const flat: string[] = []
    for (const [k, v] of req.headers) flat.push(k, v)
    return new Promise((resolve, reject) => {
      const exchange = new Exchange(req.onInformational, resolve, reject, settled)
      try {
        this.pool.dispatch({ method: req.method, path: req.path, headers: flat, body: req.body ?? null }, exchange)
      } catch (err) {
        exchange.onError(err as Error)
      }
    })
  }

  async close(): Promise<void> {
    await this.pool.close()
  }
}

/**
 * One request's side of undici's handler contract (Dispatcher.dispatch): no stream between the
 * socket and the fetch. Its methods live on the prototype, so a request costs one object, not a
 * closure per callback; what it holds is let go when the response is over, so that nothing of a
 * finished request stays reachable from undici's objects.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private body: OriginBody | undefined
  private isStarted = false

  constructor(
    private onInformational: OriginRequest['onInformational'],
    private resolve: ((res: OriginResponse) => void) | undefined,
    private reject: ((err: LacquerError) => void) | undefined,
    private settled: ((isAnswered: boolean) => void) | undefined,
  ) {
    this.body = new OriginBody(settled)
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.body) this.body.abort = abort
  }

  onHeaders(status: number, rawHeaders: Buffer[] | string[] | null, resume: () => void, statusText?: string): boolean {
    if (status < 200) {
      // forwarding a 1xx is best effort: failing to relay it must never fail the fetch
      try { this.onInformational?.(status, fromRawBuffers(rawHeaders)) } catch { /* dropped */ }
      return true
    }
    const body = this.body!
    this.isStarted = true
    body.resumeReading = resume
    const resolve = this.resolve!
    this.release()
    resolve({ status, statusText: statusText ?? '', headers: fromRawBuffers(rawHeaders), body })
    return true
  }

  onData(chunk: Buffer): boolean {
    return this.body ? this.body.push(chunk) : false
  }

  onComplete(): void {
    const body = this.body
    this.body = undefined
    body?.end()
  }

  onError(err: Error): void {
    const { body, reject, settled } = this
    this.body = undefined
    this.release()
    if (this.isStarted) {
      body?.fail(err)
    } else {
      settled?.(false)
      // before the head was handed over, undici names llhttp's refusal of the head's framing
      // (two different Content-Lengths, RFC 9112 §6.3) a length mismatch: a bad response
      reject?.(err instanceof undiciErrors.ResponseContentLengthMismatchError
        ? new LacquerError('ERR_ORIGIN_BAD_RESPONSE', `the response's framing is invalid (Content-Length, RFC 9112 §6.3): ${err.message}`, { cause: err })
        : classifyOriginError(err))
    }
  }

  /** once the response head is handed over, or the request failed: nothing of the fetch is held any more */
  private release(): void {
    this.resolve = undefined
    this.reject = undefined
    this.onInformational = undefined
    this.settled = undefined
  }
}

/**
 * undici's raw `[name, value, …]` Buffers: names lower-cased (the well-known ones as undici's
 * interned strings, no copy), values as latin1 (bytes kept as they came, RFC 9110 §5.5).
 */
function fromRawBuffers(raw: Buffer[] | string[] | null): HeaderList {
  const out: HeaderList = []
  if (!raw) return out
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const value = raw[i + 1]!
    out.push([headerNameToString(raw[i]!), typeof value === 'string' ? value : value.toString('latin1')])
  }
  return out
}

/** True when undici itself (the origin side) raised the error, not a stream it was reading from. */
export function isOriginSideError(err: unknown): boolean {
  return err instanceof undiciErrors.UndiciError || (err as Error)?.name === 'HTTPParserError'
}

/** Maps an undici or socket error to Lacquer's error catalog. */
export function classifyOriginError(err: unknown): LacquerError {
  if (err instanceof LacquerError) return err
  const code = (err as { code?: string } | null)?.code
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.ConnectTimeoutError
    || err instanceof undiciErrors.BodyTimeoutError || code === 'ETIMEDOUT') {
    return new LacquerError('ERR_ORIGIN_TIMEOUT', (err as Error).message, { cause: err })
  }
  if (err instanceof undiciErrors.ResponseContentLengthMismatchError || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
    return new LacquerError('ERR_ORIGIN_INCOMPLETE_BODY', (err as Error).message, { cause: err })
  }
  if ((err as Error)?.name === 'HTTPParserError' || code?.startsWith('HPE_') || code === 'ERR_ASSERTION'
    || err instanceof undiciErrors.ResponseError || code === 'UND_ERR_INVALID_ARG'
    // a response head larger than undici's limit (16 KiB): the origin's answer, not its connection
    || err instanceof undiciErrors.HeadersOverflowError || code === 'UND_ERR_HEADERS_OVERFLOW'
    // undici's 'bad response' / 'bad upgrade': bytes the client cannot take as an answer (a 100
    // Continue that was not asked for, an answer with no request, an upgrade not asked for)
    || (code === 'UND_ERR_SOCKET' && /^bad (response|upgrade)$/.test((err as Error).message))) {
    return new LacquerError('ERR_ORIGIN_BAD_RESPONSE', (err as Error).message, { cause: err })
  }
  return new LacquerError('ERR_ORIGIN_UNREACHABLE', (err as Error)?.message ?? String(err), { cause: err })
}
