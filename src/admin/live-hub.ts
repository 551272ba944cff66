/**
 * @module admin/live-hub
 * Sends the live numbers to every open dashboard and `lacquer stat` once a second over
 * Server-Sent Events (`GET /events`): first the last minute (`event: history`), then one
 * `event: tick` per second. One snapshot is built per second and shared by every client,
 * so a hundred open dashboards cost what one does.
 */
import type http from 'node:http'
import type { ProxyContext } from '../context.js'
import type { LiveSnapshot } from '../observe/live.js'
import { REQUEST_STATES } from '../observe/metrics.js'

/** Origin name → healthy (an origin without a probe counts as healthy). */
export type OriginHealth = () => ReadonlyMap<string, boolean>

export function liveSnapshot(ctx: ProxyContext, originHealth: OriginHealth): LiveSnapshot {
  const store = ctx.store.stats()
  return {
    point: ctx.observer.live.point(),
    totals: Object.fromEntries(REQUEST_STATES.map((state, i) => [state, ctx.observer.values.requests[i]!])) as LiveSnapshot['totals'],
    ...ctx.observer.live.lastMinute(),
    store: { objects: store.objects, bytes: store.bytes, maxBytes: store.maxBytes, evictions: store.evictions },
    origins: [...originHealth()].map(([name, healthy]) => ({ name, healthy })),
    bansPending: ctx.invalidator.pendingBans,
  }
}

export class LiveHub {
  private readonly clients = new Set<http.ServerResponse>()
  private timer?: NodeJS.Timeout

  constructor(private readonly ctx: ProxyContext, private readonly originHealth: OriginHealth) {}

  /** Opens an event stream on `res`. */
  attach(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' })
    res.write(`retry: 1000\nevent: history\ndata: ${JSON.stringify(this.ctx.observer.live.history())}\n\n`)
    this.clients.add(res)
    req.on('close', () => this.clients.delete(res))
    this.timer ??= this.startTimer()
  }

  private startTimer(): NodeJS.Timeout {
    // tick just after each second boundary, so the second just ended is complete
    const tick = () => {
      if (this.clients.size === 0) { this.timer = undefined; return }
      const frame = `event: tick\ndata: ${JSON.stringify(liveSnapshot(this.ctx, this.originHealth))}\n\n`
      for (const res of this.clients) res.write(frame)
      this.timer = setTimeout(tick, 1000 - (Date.now() % 1000) + 5)
      this.timer.unref()
    }
    const timer = setTimeout(tick, 1000 - (Date.now() % 1000) + 5)
    timer.unref()
    return timer
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer)
    for (const res of this.clients) res.end()
    this.clients.clear()
  }
}
