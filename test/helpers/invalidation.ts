/**
 * Helpers for the invalidation scenarios (i0xx): PURGE on the proxy port, the admin API's
 * POST /purge and GET /bans, a counting cacheable origin route, and a Lacquer whose memory
 * store's scan (the ban sweeper's walk) can be held back, so that pending bans stay pending.
 */
import http from 'node:http'
import { type CacheStore, createProxy, MemoryStore, type Policy, type ProxyOptions, type StoredObject } from '../../src/index.js'
import type { OriginHandler, TestOrigin } from './origin.js'
import { request, type TestProxy, type TestResponse } from './proxy.js'

/** `PURGE path` on the proxy port (origin-form), with optional fields. */
export function purge(proxyUrl: string, path: string, headers: Record<string, string> = {}): Promise<TestResponse> {
  return request(`${proxyUrl}${path}`, { method: 'PURGE', headers })
}

export interface JsonResponse<T = any> {
  status: number
  headers: http.IncomingHttpHeaders
  body: T
  text: string
}

/** Sends raw text (or JSON of a value) to the admin port; parses the JSON answer when it is JSON. */
export function admin<T = any>(
  adminUrl: string, method: string, path: string,
  options: { json?: unknown; raw?: string | Buffer; headers?: Record<string, string>; chunked?: boolean } = {},
): Promise<JsonResponse<T>> {
  const payload = options.raw ?? (options.json === undefined ? undefined : JSON.stringify(options.json))
  const headers: Record<string, string> = { ...(payload !== undefined && { 'content-type': 'application/json' }), ...options.headers }
  if (payload !== undefined && !options.chunked) headers['content-length'] = String(Buffer.byteLength(payload))
  return new Promise((resolve, reject) => {
    const req = http.request(`${adminUrl}${path}`, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString()
        let body: any = text
        try { body = JSON.parse(text) } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text })
      })
    })
    req.on('error', reject)
    if (payload !== undefined && options.chunked) {
      // written in pieces without Content-Length (Transfer-Encoding: chunked)
      const buf = Buffer.from(payload)
      const piece = 64 * 1024
      for (let at = 0; at < buf.length; at += piece) req.write(buf.subarray(at, at + piece))
      req.end()
    } else {
      req.end(payload)
    }
  })
}

/** POST /purge with a JSON body. */
export function adminPurge<T = any>(adminUrl: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonResponse<T>> {
  return admin<T>(adminUrl, 'POST', '/purge', { json: body, headers })
}

/**
 * A cacheable route whose body names the path and how many times the origin served it
 * (`/p GET #3`), with optional extra response fields (a function of the request, e.g. Vary).
 */
export function countingRoute(
  extra: (req: http.IncomingMessage) => Record<string, string> = () => ({}),
  options: { maxAge?: number; delayMs?: number } = {},
): OriginHandler {
  let n = 0
  return async (req, res) => {
    n++
    const serial = n
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs))
    res.writeHead(200, { 'cache-control': `max-age=${options.maxAge ?? 300}`, 'content-type': 'text/plain', ...extra(req) })
    res.end(`${req.url} ${req.method} #${serial}`)
  }
}

/** GET requests the origin received for exactly this path + query. */
export function originGets(origin: TestOrigin, path: string): number {
  return origin.received.filter((r) => r.url === path && r.method === 'GET').length
}

/**
 * A memory store whose `scan` (walked by the ban sweeper) waits until `release()` is called:
 * bans issued meanwhile stay pending, so only the lazy application on lookup can apply them.
 */
export function heldScanStore(): { store: CacheStore; release(): void; readonly scans: number } {
  const store: CacheStore = new MemoryStore({ maxBytes: 64 * 1024 * 1024, maxObjectBytes: 16 * 1024 * 1024 })
  const innerScan = store.scan.bind(store) as () => Iterable<StoredObject>
  let open!: () => void
  const gate = new Promise<void>((resolve) => { open = resolve })
  let scans = 0
  store.scan = () => {
    scans++
    return (async function* () {
      await gate
      yield* innerScan()
    })()
  }
  return { store, release: () => open(), get scans() { return scans } }
}

/** Like startProxy, with a store of the test's choosing (e.g. HeldScanStore). */
export async function startProxyWithStore(
  options: Partial<ProxyOptions> & Pick<ProxyOptions, 'origin'>, store: CacheStore, policy?: Policy,
): Promise<TestProxy> {
  const logs: TestProxy['logs'] = []
  const proxy = createProxy({ listen: '127.0.0.1:0', admin: '127.0.0.1:0', ...options }, policy, {
    logger: (level, msg, fields) => { logs.push({ level, msg, fields }) },
    store,
  })
  const { url, adminUrl } = await proxy.listen()
  return { url, adminUrl: adminUrl ?? '', proxy, logs, close: () => proxy.close() }
}

/** Waits until `check` is true (polling), or fails after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 3000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms
  for (;;) {
    if (await check()) return
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/**
 * A request whose target is sent exactly as given (node's URL parsing would percent-encode
 * quotes and braces and resolve dot segments before sending).
 */
export function rawRequest(baseUrl: string, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<TestResponse> {
  const base = new URL(baseUrl)
  return new Promise((resolve, reject) => {
    const req = http.request({ host: base.hostname.replace(/^\[|\]$/g, ''), port: base.port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({
        status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString(), isAborted: !res.complete,
      }))
    })
    req.on('error', reject)
    req.end()
  })
}
