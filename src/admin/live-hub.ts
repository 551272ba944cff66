/**
 * @module admin/live-hub
 * Sends the live numbers to every open dashboard and `lacquer stat` once a second over
 * Server-Sent Events (`GET /events`): first the last minute (`event: history`), then one
 * `event: tick` per second. One snapshot is built per second and shared by every client,
 * so a hundred open dashboards cost what one does.
 */
import type http from 'node:http'
import type { AdminSource } from './admin-source.js'

export class LiveHub {
  private readonly clients = new Set<http.ServerResponse>()
  private timer?: NodeJS.Timeout
  private isClosed = false

  constructor(private readonly source: AdminSource) {}

  /** Opens an event stream on `res`. */
  attach(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' })
    this.source.snapshot().then(({ history }) => {
      if (res.destroyed || this.isClosed) return
      res.write(`retry: 1000\nevent: history\ndata: ${JSON.stringify(history)}\n\n`)
      this.clients.add(res)
      this.timer ??= this.startTimer()
    }, (err: Error) => {
      this.source.log('error', 'live numbers unavailable', { error: err.message })
      res.end()
    })
    req.on('close', () => this.clients.delete(res))
  }

  private startTimer(): NodeJS.Timeout {
    // tick just after each second boundary, so the second just ended is complete
    const next = () => {
      this.timer = setTimeout(tick, 1000 - (Date.now() % 1000) + 5)
      this.timer.unref()
      return this.timer
    }
    const tick = () => {
      if (this.clients.size === 0 || this.isClosed) { this.timer = undefined; return }
      this.source.snapshot().then(({ history: _history, ...snapshot }) => {
        const frame = `event: tick\ndata: ${JSON.stringify(snapshot)}\n\n`
        for (const res of this.clients) res.write(frame)
      }, (err: Error) => this.source.log('warn', 'live numbers unavailable this second', { error: err.message })).finally(() => {
        if (!this.isClosed) next()
      })
    }
    return next()
  }

  close(): void {
    this.isClosed = true
    if (this.timer) clearTimeout(this.timer)
    for (const res of this.clients) res.end()
    this.clients.clear()
  }
}
