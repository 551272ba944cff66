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
  handle(ctx: ProxyContext, req: http.IncomingMessage, res: http.ServerResponse, hooks: AdminHooks): void
}

export interface AdminHooks {
  /** re-reads the config file and swaps it in; resolves with warnings, rejects with the reason */
  reload?: () => Promise<string[]>
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
        staleOnError: c.staleOnError,
        waitersShed: c.waitersShed,
        hitForMissKeys: ctx.hitForMiss.size,
        origins: ctx.origin.stats(),
        store: { type: ctx.store.name, objects: store.objects, bytes: store.bytes, maxBytes: store.maxBytes, evictions: store.evictions },
        rules: ctx.config.rules.map((r) => r.name),
      })
    },
  },
  {
    method: 'POST',
    path: '/reload',
    handle: (ctx, _req, res, hooks) => {
      if (!hooks.reload) return sendJson(res, 409, { ok: false, error: 'this Lacquer was started without a config file: there is nothing to reload' })
      hooks.reload().then(
        (warnings) => sendJson(res, 200, { ok: true, rules: ctx.config.rules.length, warnings }),
        (err: Error & { code?: string }) => sendJson(res, 400, { ok: false, code: err.code, error: err.message, kept: 'the running config' }),
      )
    },
  },
]

export function createAdminServer(ctx: ProxyContext, reload?: () => Promise<string[]>): http.Server {
  const hooks: AdminHooks = { reload }
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const endpoint = ADMIN_ENDPOINTS.find((e) => e.path === path)
    if (!endpoint) return sendJson(res, 404, { error: 'not found', endpoints: ADMIN_ENDPOINTS.map((e) => `${e.method} ${e.path}`) })
    if (req.method !== endpoint.method && !(req.method === 'HEAD' && endpoint.method === 'GET')) {
      res.setHeader('allow', endpoint.method)
      return sendJson(res, 405, { error: `use ${endpoint.method}` })
    }
    endpoint.handle(ctx, req, res, hooks)
  })
}
