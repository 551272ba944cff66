/**
 * @module origin/health-probe
 * Varnish-like health probes: every `interval` a GET of the probe path, passed when the
 * status is `expectedStatus` within `timeout`. The origin is healthy while at least
 * `threshold` of the last `window` probes passed; at start, `initial` of them count as passed.
 * A new connection per probe, so a probe never waits behind the traffic's pool.
 */
import http from 'node:http'
import type { ResolvedProbe } from '../config/resolve-origins.js'

export interface ProbeStatus {
  readonly isHealthy: boolean
  /** probes passed among the last `window` */
  readonly good: number
  readonly window: number
  readonly threshold: number
  /** epoch ms of the last probe's end, or null before the first */
  readonly lastAt: number | null
  /** what the last probe saw: "200", "timeout", "ECONNREFUSED", … */
  readonly last: string | null
}

export class HealthProbe {
  /** the last `window` results, oldest first */
  private readonly results: boolean[]
  private timer: NodeJS.Timeout | undefined
  private isStopped = true
  private lastAt: number | null = null
  private last: string | null = null
  private healthy: boolean

  constructor(
    private readonly settings: ResolvedProbe,
    private readonly url: string,
    private readonly onChange: (isHealthy: boolean, status: ProbeStatus) => void,
  ) {
    const initial = Math.min(settings.initial, settings.window)
    this.results = [...Array<boolean>(settings.window - initial).fill(false), ...Array<boolean>(initial).fill(true)]
    this.healthy = initial >= settings.threshold
  }

  get isHealthy(): boolean {
    return this.healthy
  }

  status(): ProbeStatus {
    return {
      isHealthy: this.healthy, good: this.results.filter(Boolean).length, window: this.settings.window,
      threshold: this.settings.threshold, lastAt: this.lastAt, last: this.last,
    }
  }

  /** Probes at once, then every interval, until stop(). */
  start(): void {
    if (!this.isStopped) return
    this.isStopped = false
    void this.tick()
  }

  stop(): void {
    this.isStopped = true
    clearTimeout(this.timer)
  }

  private async tick(): Promise<void> {
    const outcome = await probeOnce(this.url, this.settings)
    if (this.isStopped) return
    this.record(outcome === String(this.settings.expectedStatus), outcome)
    this.timer = setTimeout(() => void this.tick(), this.settings.intervalMs)
    this.timer.unref()
  }

  private record(isPassed: boolean, outcome: string): void {
    this.results.shift()
    this.results.push(isPassed)
    this.lastAt = Date.now()
    this.last = outcome
    const isHealthy = this.results.filter(Boolean).length >= this.settings.threshold
    if (isHealthy !== this.healthy) {
      this.healthy = isHealthy
      this.onChange(isHealthy, this.status())
    }
  }
}

/** One probe: resolves with the status code as text, "timeout", or the socket error's code. Never rejects. */
export function probeOnce(url: string, settings: Pick<ResolvedProbe, 'path' | 'timeoutMs'>): Promise<string> {
  return new Promise((resolve) => {
    const isUnix = url.startsWith('unix:')
    const target = isUnix ? undefined : new URL(url)
    let settled = false
    const done = (outcome: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      req.destroy()
      resolve(outcome)
    }
    const req = http.request({
      method: 'GET',
      path: settings.path,
      agent: false,
      ...(isUnix ? { socketPath: url.slice('unix:'.length) } : { host: target!.hostname.replace(/^\[|\]$/g, ''), port: target!.port || 80 }),
      headers: { host: isUnix ? 'localhost' : target!.host, 'user-agent': 'lacquer-probe', connection: 'close' },
    }, (res) => {
      const status = String(res.statusCode ?? 0)
      res.on('error', () => done(status))
      res.on('end', () => done(status))
      res.resume()
    })
    const timer = setTimeout(() => done('timeout'), settings.timeoutMs)
    req.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? 'error'))
    req.end()
  })
}
