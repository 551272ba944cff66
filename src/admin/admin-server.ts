/**
 * @module admin/admin-server
 * The admin port (loopback by default): `/healthz` and a JSON `/stats`. Later issues add
 * purge, metrics and the dashboard here.
 */
import http from 'node:http'
import type { ProxyContext } from '../context.js'

export interface AdminEndpoint {
  readonly method: string
  readonly path: string
  handle(ctx: ProxyContext, req: http.IncomingMessage, res: http.ServerResponse): void
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = `${JSON.stringify(value, null, 2)}\n`
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
  res.end(body)
}

export const ADMIN_ENDPOINTS: readonly AdminEndpoint[] = [
  {
    method: 'GET',
    path: '/healthz',
    handle: (_ctx, _req, res) => sendJson(res, 200, { status: 'ok' }),
  },
  {
    method: 'GET',
    path: '/stats',
    handle: (ctx, _req, res) => {
      const store = ctx.store.stats()
      const c = ctx.counters
      sendJson(res, 200, {
        uptimeSeconds: Math.floor(process.uptime()),
        requests: c.requests,
        hits: c.hits,
        misses: c.misses,
        passes: c.passes,
        synths: c.synths,
        coalesced: c.coalesced,
        revalidations: c.revalidations,
        originRequests: c.originRequests,
        originErrors: c.originErrors,
        incompleteBodies: c.incompleteBodies,
        store: { type: ctx.store.name, objects: store.objects, bytes: store.bytes, maxBytes: store.maxBytes, evictions: store.evictions },
      })
    },
  },
]

export function createAdminServer(ctx: ProxyContext): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const endpoint = ADMIN_ENDPOINTS.find((e) => e.path === path)
    if (!endpoint) return sendJson(res, 404, { error: 'not found', endpoints: ADMIN_ENDPOINTS.map((e) => `${e.method} ${e.path}`) })
    if (req.method !== endpoint.method && !(req.method === 'HEAD' && endpoint.method === 'GET')) {
      res.setHeader('allow', endpoint.method)
      return sendJson(res, 405, { error: `use ${endpoint.method}` })
    }
    endpoint.handle(ctx, req, res)
  })
}
