/**
 * A scripted origin for scenario tests: a real HTTP server on a free loopback port whose
 * answer per path is a function the test gives, and which counts what it received.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  rawHeaders: string[]
  body: string
}

export type OriginHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void | Promise<void>

export interface TestOrigin {
  url: string
  port: number
  /** every request received, in order */
  received: ReceivedRequest[]
  /** requests received for one path (path + query) */
  count(path: string): number
  /** sets the handler for a path (exact match on path + query, or on path alone) */
  on(path: string, handler: OriginHandler): void
  close(): Promise<void>
  server: http.Server
}

export async function startOrigin(handlers: Record<string, OriginHandler> = {}): Promise<TestOrigin> {
  const routes = new Map(Object.entries(handlers))
  const received: ReceivedRequest[] = []
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString()
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body })
    const url = req.url ?? '/'
    const handler = routes.get(url) ?? routes.get(url.split('?')[0]!) ?? routes.get('*')
    if (!handler) {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('no handler\n')
      return
    }
    try {
      await handler(req, res, body)
    } catch (err) {
      res.destroy(err as Error)
    }
  })
  server.keepAliveTimeout = 10_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    server,
    count: (path) => received.filter((r) => r.url === path).length,
    on: (path, handler) => { routes.set(path, handler) },
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections() }),
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
