/**
 * @module origin/origin-set
 * A site's origins and the director that chooses among them: each fetch goes to the origin
 * the director picks among the healthy ones; when none is healthy the fetch fails at once
 * with ERR_ORIGIN_ALL_SICK (and the client side may serve stale). Never retries: a failed
 * request is reported, and the fetch side decides.
 */
import type { ResolvedDirector, ResolvedOrigin } from '../config/resolve-origins.js'
import { LacquerError } from '../errors.js'
import type { Logger } from '../observe/logger.js'
import { Backend, type BackendStats } from './backend.js'
import { type Director, createDirector } from './director.js'
import type { OriginRequest, OriginResponse } from './origin-client.js'

export interface OriginSetStats {
  readonly director: ResolvedDirector['type']
  readonly healthy: number
  readonly origins: readonly BackendStats[]
}

export class OriginSet {
  readonly backends: readonly Backend[]
  private readonly director: Director

  constructor(origins: readonly ResolvedOrigin[], director: ResolvedDirector, log: Logger) {
    this.backends = origins.map((o) => new Backend(o, log))
    this.director = createDirector(director.type)
  }

  /** Starts the health probes (each probes at once, then every interval). */
  start(): void {
    for (const b of this.backends) b.startProbe()
  }

  /** Sends the request to the origin the director picks; `req.key` is what the hash director hashes. */
  request(req: OriginRequest): Promise<OriginResponse> {
    const only = this.backends.length === 1 ? this.backends[0]! : undefined
    const backend = only ? (only.isHealthy ? only : undefined)
      : this.director.pick(this.backends.filter((b) => b.isHealthy), req.key ?? req.path)
    if (!backend) {
      return Promise.reject(new LacquerError('ERR_ORIGIN_ALL_SICK', this.backends.map((b) => b.name).join(', ')))
    }
    return backend.request(req)
  }

  stats(): OriginSetStats {
    const origins = this.backends.map((b) => b.stats())
    return { director: this.director.type, healthy: origins.filter((o) => o.isHealthy).length, origins }
  }

  async close(): Promise<void> {
    await Promise.all(this.backends.map((b) => b.close()))
  }
}
