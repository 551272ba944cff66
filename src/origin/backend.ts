/**
 * @module origin/backend
 * One origin of a site: its keep-alive pool (a connection limit, and a bounded queue of
 * requests waiting for a free connection), its health probe, and its counters.
 */
import type { ResolvedOrigin } from '../config/resolve-origins.js'
import { LacquerError } from '../errors.js'
import type { Logger } from '../observe/logger.js'
import { HealthProbe, type ProbeStatus } from './health-probe.js'
import { OriginClient, type OriginRequest, type OriginResponse } from './origin-client.js'

export interface BackendStats {
  readonly name: string
  readonly url: string
  readonly weight: number
  readonly isHealthy: boolean
  /** requests sent and not yet finished (waiting for a connection, or streaming) */
  readonly inFlight: number
  readonly connections: number
  readonly maxQueue: number
  readonly requests: number
  readonly errors: number
  /** requests refused because connections and queue were full */
  readonly queueFull: number
  /** null: this origin has no probe and is always healthy */
  readonly probe: ProbeStatus | null
}

export class Backend {
  readonly name: string
  readonly url: string
  readonly weight: number
  private readonly client: OriginClient
  private readonly probe: HealthProbe | null
  private inFlight = 0
  private requests = 0
  private errors = 0
  private queueFull = 0

  constructor(private readonly settings: ResolvedOrigin, log: Logger) {
    this.name = settings.name
    this.url = settings.url
    this.weight = settings.weight
    this.client = new OriginClient(settings)
    this.probe = settings.probe && new HealthProbe(settings.probe, settings.url, (isHealthy, status) => {
      if (isHealthy) log('info', 'origin is healthy again: back in its director', { origin: this.name, good: status.good, window: status.window })
      else log('warn', 'origin is sick: out of its director until its probes pass', { origin: this.name, last: status.last, good: status.good, window: status.window })
    })
  }

  get isHealthy(): boolean {
    return this.probe ? this.probe.isHealthy : true
  }

  startProbe(): void {
    this.probe?.start()
  }

  /** Sends one request; refuses at once (503) when every connection is busy and the queue is full. */
  request(req: OriginRequest): Promise<OriginResponse> {
    if (this.inFlight >= this.settings.connections + this.settings.maxQueue) {
      this.queueFull++
      return Promise.reject(new LacquerError('ERR_ORIGIN_QUEUE_FULL', `${this.name}: ${this.inFlight} requests under way or queued`))
    }
    this.inFlight++
    this.requests++
    return this.client.request(req, this.settled)
  }

  /** The request failed (no response), or its body was read or dropped: the connection is free again. */
  private readonly settled = (isAnswered: boolean): void => {
    this.inFlight--
    if (!isAnswered) this.errors++
  }

  stats(): BackendStats {
    return {
      name: this.name, url: this.url, weight: this.weight, isHealthy: this.isHealthy, inFlight: this.inFlight,
      connections: this.settings.connections, maxQueue: this.settings.maxQueue, requests: this.requests, errors: this.errors,
      queueFull: this.queueFull, probe: this.probe?.status() ?? null,
    }
  }

  async close(): Promise<void> {
    this.probe?.stop()
    await this.client.close()
  }
}
