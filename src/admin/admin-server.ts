/**
 * @module admin/admin-server
 * The admin port (loopback by default): `/healthz`, a JSON `/stats`, `POST /reload`,
 * `POST /purge` (URLs, tags, prefix/pattern/host bans, soft or hard; answers with a receipt),
 * `GET /bans` and `GET /esi` (the last assembled ESI pages, each fragment's Cache-Status).
 * Endpoints that change or reveal invalidation state are guarded by the same trust check as
 * the proxy port's PURGE (trust.allow and/or the bearer token). What it shows comes from an
 * AdminSource: this process, or every worker of a cluster added up.
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { createRequire } from 'node:module'
import { DASHBOARD_HTML } from './dashboard-page.js'
import { type AdminSource, METRICS_CONTENT_TYPE } from './admin-source.js'
import { LiveHub } from './live-hub.js'
import { MAX_PURGE_BODY_BYTES, parsePurgeRequest } from '../invalidate/command.js'
import { TooManyBansError } from '../invalidate/invalidator.js'
import type { ListenAddress } from '../config/resolve.js'
import type { Logger } from '../observe/logger.js'

export interface AdminEndpoint {
  readonly method: string
  readonly path: string
  /** only trusted callers (trust.allow and/or the token) may call it */
  readonly isGuarded: boolean
  handle(source: AdminSource, req: http.IncomingMessage, res: http.ServerResponse, hub: LiveHub): void
}

const require = createRequire(import.meta.url)
/** uPlot's files, read once at start: the dashboard's only dependency */
const ASSETS: Record<string, { type: string; body: Buffer }> = {
  '/assets/uPlot.iife.min.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')) },
  '/assets/uPlot.min.css': { type: 'text/css; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')) },
}
const DASHBOARD = Buffer.from(DASHBOARD_HTML)

function sendBody(res: http.ServerResponse, type: string, body: Buffer, cacheControl = 'no-store'): void {
  res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': cacheControl })
  res.end(body)
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = `${JSON.stringify(value, null, 2)}\n`
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
  res.end(body)
}

/** Answers with what `read` resolves with, or a 500 naming what failed. */
function sendAsync(res: http.ServerResponse, read: () => Promise<unknown>): void {
  read().then((value) => sendJson(res, 200, value), (err: Error) => sendJson(res, 500, { error: err.message }))
}

export const ADMIN_ENDPOINTS: readonly AdminEndpoint[] = [
  {
    method: 'GET',
    path: '/',
    isGuarded: true,
    handle: (_source, _req, res) => sendBody(res, 'text/html; charset=utf-8', DASHBOARD),
  },
  {
    method: 'GET',
    path: '/events',
    isGuarded: true,
    handle: (_source, req, res, hub) => hub.attach(req, res),
  },
  {
    method: 'GET',
    path: '/snapshot',
    isGuarded: true,
    handle: (source, _req, res) => sendAsync(res, () => source.snapshot()),
  },
  {
    method: 'GET',
    path: '/metrics',
    isGuarded: false,
    handle: (source, _req, res) => {
      source.metrics().then(
        (text) => sendBody(res, METRICS_CONTENT_TYPE, Buffer.from(text)),
        (err: Error) => sendJson(res, 500, { error: err.message }),
      )
    },
  },
  ...Object.entries(ASSETS).map(([path, asset]): AdminEndpoint => ({
    method: 'GET',
    path,
    isGuarded: false,
    handle: (_source, _req, res) => sendBody(res, asset.type, asset.body, 'public, max-age=86400'),
  })),
  {
    method: 'GET',
    path: '/healthz',
    isGuarded: false,
    handle: (_source, _req, res) => sendJson(res, 200, { status: 'ok' }),
  },
  {
    method: 'GET',
    path: '/stats',
    isGuarded: false,
    handle: (source, _req, res) => sendAsync(res, () => source.stats()),
  },
  {
    // the last assembled ESI pages and each fragment's Cache-Status; guarded: include URLs may carry users' values
    method: 'GET',
    path: '/esi',
    isGuarded: true,
    handle: (source, _req, res) => sendAsync(res, async () => ({ pages: await source.esiPages() })),
  },
  {
    method: 'POST',
    path: '/reload',
    isGuarded: true,
    handle: (source, _req, res) => {
      if (!source.reload) return sendJson(res, 409, { ok: false, error: 'this Lacquer was started without a config file: there is nothing to reload' })
      source.reload().then(
        (warnings) => sendJson(res, 200, { ok: true, rules: source.config.rules.length, warnings }),
        (err: Error & { code?: string }) => sendJson(res, 400, { ok: false, code: err.code, error: err.message, kept: 'the running config' }),
      )
    },
  },
  {
    method: 'POST',
    path: '/purge',
    isGuarded: true,
    handle: (source, req, res) => {
      // JSON only: a form or text/plain POST is what a cross-site page can send without asking
      if (!/^application\/json\s*(?:;|$)/i.test(req.headers['content-type'] ?? '')) {
        req.resume()
        return sendJson(res, 415, { ok: false, errors: ['send the purge as JSON, with Content-Type: application/json'], applied: 'nothing' })
      }
      readJsonBody(req, MAX_PURGE_BODY_BYTES).then((body) => {
        if (body instanceof BodyError) return sendJson(res, body.status, { ok: false, errors: [body.message] })
        const parsed = parsePurgeRequest(source.config, body)
        if (!parsed.ok) {
          source.log('warn', 'purge request refused', { errors: parsed.errors })
          return sendJson(res, 400, { ok: false, errors: parsed.errors, applied: 'nothing' })
        }
        return source.purge(parsed.command, parsed.wait).then(
          (receipt) => sendJson(res, 200, { ok: true, ...receipt }),
          (err: Error) => sendJson(res, err instanceof TooManyBansError ? 503 : 400, { ok: false, errors: [err.message], applied: 'nothing' }),
        )
      }, (err: Error) => sendJson(res, 500, { ok: false, errors: [err.message] }))
    },
  },
  {
    method: 'GET',
    path: '/bans',
    isGuarded: true,
    handle: (source, _req, res) => sendAsync(res, () => source.bans()),
  },
]

class BodyError {
  constructor(readonly status: number, readonly message: string) {}
}

/** Reads a JSON request body of at most `limit` bytes; a BodyError says what was wrong. */
function readJsonBody(req: http.IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length'])
    if (declared > limit) {
      req.resume()
      return resolve(new BodyError(413, `the body is ${declared} bytes; at most ${limit} are accepted`))
    }
    const chunks: Buffer[] = []
    let size = 0
    let isDone = false
    req.on('data', (chunk: Buffer) => {
      if (isDone) return
      size += chunk.length
      if (size > limit) {
        isDone = true
        chunks.length = 0
        return resolve(new BodyError(413, `the body is larger than ${limit} bytes`))
      }
      chunks.push(chunk)
    })
    req.on('error', () => { if (!isDone) { isDone = true; resolve(new BodyError(400, 'the request body broke off')) } })
    req.on('end', () => {
      if (isDone) return
      isDone = true
      const text = Buffer.concat(chunks).toString('utf8')
      if (text.trim() === '') return resolve(new BodyError(400, 'the body is empty; send JSON such as {"urls": ["http://shop.example/p/1"]}'))
      try {
        resolve(JSON.parse(text))
      } catch (err) {
        resolve(new BodyError(400, `the body is not JSON (${(err as Error).message})`))
      }
    })
  })
}

export function createAdminServer(source: AdminSource): http.Server & { hub: LiveHub } {
  const hub = new LiveHub(source)
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const endpoint = ADMIN_ENDPOINTS.find((e) => e.path === path)
    if (!endpoint) return sendJson(res, 404, { error: 'not found', endpoints: ADMIN_ENDPOINTS.map((e) => `${e.method} ${e.path}`) })
    if (req.method !== endpoint.method && !(req.method === 'HEAD' && endpoint.method === 'GET')) {
      res.setHeader('allow', endpoint.method)
      return sendJson(res, 405, { error: `use ${endpoint.method}` })
    }
    if (endpoint.isGuarded) {
      // a web page in an operator's browser must not purge or reload through it (CSRF): a
      // cross-site request carries an Origin naming another host, or Sec-Fetch-Site: cross-site
      const origin = req.headers.origin
      let originHost: string | undefined
      try { originHost = origin === undefined || origin === 'null' ? origin : new URL(origin).host } catch { originHost = 'invalid' }
      if ((originHost !== undefined && originHost !== req.headers.host) || req.headers['sec-fetch-site'] === 'cross-site') {
        source.log('warn', 'admin request refused: cross-site', { path, origin, client: req.socket.remoteAddress })
        req.resume()
        return sendJson(res, 403, { ok: false, errors: [`a cross-site request (Origin ${origin ?? 'unknown'}) is refused on the admin port`] })
      }
      const verdict = source.trust.check(req.socket.remoteAddress, req.headers.authorization)
      if (!verdict.ok) {
        source.log('warn', 'admin request refused', { path, client: req.socket.remoteAddress, reason: verdict.reason })
        req.resume()
        return sendJson(res, verdict.status, { ok: false, errors: [verdict.reason] })
      }
    }
    endpoint.handle(source, req, res, hub)
  })
  return Object.assign(server, { hub })
}

/** Logs a warning when the admin port is reachable beyond loopback. */
export function warnIfBeyondLoopback(admin: ListenAddress | null, log: Logger): void {
  if (admin && !/^(127\.|::1$|localhost$)/.test(admin.host)) {
    log('warn', 'the admin port listens beyond loopback: anyone who reaches it can read /stats (purge, bans and reload stay limited to trust.allow and the token)', { admin: admin.host })
  }
}
