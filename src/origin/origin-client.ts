/**
 * @module origin/origin-client
 * HTTP/1.1 to the origin over undici keep-alive pools (TCP or a Unix socket). Never retries:
 * a failed request is reported, and the fetch side decides. The only place that imports undici.
 */
import { Pool, errors as undiciErrors } from 'undici'
import type { Readable } from 'node:stream'
import { LacquerError } from '../errors.js'
import type { HeaderList } from '../http-cache/header-list.js'

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
  body?: Readable
  /** the cache key of the fetch: what the hash director hashes (default: the path) */
  key?: string
  /** called for each 1xx interim response (RFC 9110 §15.2) before the final one */
  onInformational?: (status: number, headers: HeaderList) => void
}

export interface OriginResponse {
  status: number
  statusText: string
  headers: HeaderList
  body: Readable
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

  async request(req: OriginRequest): Promise<OriginResponse> {
    const flat: string[] = []
    for (const [k, v] of req.headers) flat.push(k, v)
    try {
      const res = await this.pool.request({
        method: req.method,
        path: req.path,
        headers: flat,
        body: req.body ?? null,
        onInfo: req.onInformational
          ? ({ statusCode, headers }) => {
            // forwarding a 1xx is best effort: failing to relay it must never fail the fetch
            try { req.onInformational!(statusCode, toHeaderList(headers)) } catch { /* dropped */ }
          }
          : undefined,
      })
      return { status: res.statusCode, statusText: res.statusText ?? '', headers: toHeaderList(res.headers), body: res.body }
    } catch (err) {
      throw classifyOriginError(err)
    }
  }

  async close(): Promise<void> {
    await this.pool.close()
  }
}

function toHeaderList(headers: Record<string, string | string[] | undefined>): HeaderList {
  const out: HeaderList = []
  for (const name of Object.keys(headers)) {
    const value = headers[name]
    if (value === undefined) continue
    const lower = name.toLowerCase()
    if (Array.isArray(value)) for (const v of value) out.push([lower, v])
    else out.push([lower, value])
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
    || err instanceof undiciErrors.ResponseError || code === 'UND_ERR_INVALID_ARG') {
    return new LacquerError('ERR_ORIGIN_BAD_RESPONSE', (err as Error).message, { cause: err })
  }
  return new LacquerError('ERR_ORIGIN_UNREACHABLE', (err as Error)?.message ?? String(err), { cause: err })
}
