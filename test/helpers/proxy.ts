/**
 * Starts a real Lacquer on free loopback ports in front of a test origin, and a small HTTP
 * client that shows exactly what came back (raw header lines, whole body, or an abort).
 */
import http from 'node:http'
import { createProxy, type Proxy, type ProxyOptions, type Policy } from '../../src/index.js'
import type { LogLevel } from '../../src/observe/logger.js'

export interface TestProxy {
  url: string
  adminUrl: string
  proxy: Proxy
  logs: Array<{ level: LogLevel; msg: string; fields?: Record<string, unknown> }>
  close(): Promise<void>
}

export async function startProxy(options: Partial<ProxyOptions> & Pick<ProxyOptions, 'origin'>, policy?: Policy): Promise<TestProxy> {
  const logs: TestProxy['logs'] = []
  const proxy = createProxy({ listen: '127.0.0.1:0', admin: '127.0.0.1:0', ...options }, policy, {
    logger: (level, msg, fields) => { logs.push({ level, msg, fields }) },
  })
  const { url, adminUrl } = await proxy.listen()
  return { url, adminUrl: adminUrl ?? '', proxy, logs, close: () => proxy.close() }
}

export interface TestResponse {
  status: number
  headers: http.IncomingHttpHeaders
  rawHeaders: string[]
  body: string
  /** the response ended without its whole body (the connection was cut) */
  isAborted: boolean
}

export interface RequestOptions {
  method?: string
  headers?: Record<string, string | string[]>
  body?: string
  /** a fresh connection per request (default), or a shared keep-alive agent */
  agent?: http.Agent | false
}

/** One request; resolves with what was received, including a cut-short body. */
export function request(url: string, options: RequestOptions = {}): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = []
      let isAborted = false
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('aborted', () => { isAborted = true })
      res.on('error', () => { isAborted = true })
      res.on('close', () => {
        resolve({
          status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks).toString(), isAborted: isAborted || !res.complete,
        })
      })
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

/** The Cache-Status member Lacquer added (the last one). */
export function cacheStatus(res: TestResponse): string {
  const value = res.headers['cache-status']
  const members = (Array.isArray(value) ? value.join(', ') : value ?? '').split(',').map((m) => m.trim())
  return members[members.length - 1] ?? ''
}

export function isHit(res: TestResponse): boolean {
  return /; hit(;|$)/.test(cacheStatus(res))
}
