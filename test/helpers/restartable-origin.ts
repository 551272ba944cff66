/**
 * An origin that can be stopped and started again on the same port (or Unix socket): for
 * scenarios where an origin goes down and comes back. It names itself in every body and
 * counts the requests it answered, health probes apart.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>

export interface RestartableOrigin {
  readonly name: string
  readonly url: string
  /** requests answered, probe requests (/healthz) not counted */
  readonly served: number
  /** what /healthz answers while up */
  healthStatus: number
  handler: Handler
  stop(): Promise<void>
  start(): Promise<void>
}

export async function startRestartableOrigin(name: string, listenOn: { port?: number; socketPath?: string } = {}): Promise<RestartableOrigin> {
  let served = 0
  let server: http.Server | undefined
  let port = listenOn.port ?? 0
  const origin: RestartableOrigin = {
    name,
    url: '',
    get served() { return served },
    healthStatus: 200,
    handler: (_req, res) => { res.writeHead(200, { 'cache-control': 'no-store' }); res.end(name) },
    async stop() {
      if (!server) return
      const s = server
      server = undefined
      await new Promise<void>((resolve) => { s.close(() => resolve()); s.closeAllConnections() })
    },
    async start() {
      server = http.createServer((req, res) => {
        if (req.url === '/healthz') { res.writeHead(origin.healthStatus); res.end(); return }
        served++
        void origin.handler(req, res)
      })
      const s = server
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject)
        if (listenOn.socketPath) s.listen(listenOn.socketPath, resolve)
        else s.listen(port, '127.0.0.1', resolve)
      })
      if (!listenOn.socketPath) port = (s.address() as AddressInfo).port
      ;(origin as { url: string }).url = listenOn.socketPath ? `unix:${listenOn.socketPath}` : `http://127.0.0.1:${port}`
    },
  }
  await origin.start()
  return origin
}
