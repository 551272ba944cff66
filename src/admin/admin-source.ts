/**
 * @module admin/admin-source
 * What the admin port shows and does, as asynchronous functions. One process answers from its
 * own context (`LocalAdminSource`); the primary of `lacquer serve --workers N` asks every worker
 * and adds their answers up (cluster/cluster-admin-source.ts). The admin server, the live hub,
 * the dashboard and `lacquer stat` cannot tell the two apart.
 */
import { Registry } from 'prom-client'
import type { ResolvedConfig } from '../config/resolve.js'
import type { Counters, ProxyContext } from '../context.js'
import { type EsiPageReport, recentEsiPages } from '../esi/report.js'
import type { InvalidationCommand, InvalidationReceipt, Invalidator } from '../invalidate/invalidator.js'
import type { TrustGuard } from '../invalidate/trust.js'
import type { LiveExport, LivePoint, LiveSnapshot } from '../observe/live.js'
import type { Logger } from '../observe/logger.js'
import { REQUEST_STATES, createRegistry } from '../observe/metrics.js'
import type { OriginSetStats } from '../origin/origin-set.js'

/** Origin name → healthy (an origin without a probe counts as healthy). */
export type OriginHealth = () => ReadonlyMap<string, boolean>

/** `GET /stats`: the counters and more. */
export interface AdminStats extends Counters {
  uptimeSeconds: number
  accessLogDropped: number
  hitForMissKeys: number
  origins: OriginSetStats
  store: { type: string; objects: number; bytes: number; maxBytes: number; evictions: number }
  /** the process's memory as node reports it (with --workers N: the workers' added up) */
  memory: MemoryStats
  rules: string[]
  /** with --workers N: each worker's share (absent for one process) */
  workers?: Array<{ id: number; pid: number; uptimeSeconds: number; requests: number; hits: number; objects: number }>
  /** with --workers N: workers restarted after they died */
  workerRestarts?: number
}

export type BanList = ReturnType<Invalidator['listBans']>

export interface MemoryStats { rssBytes: number; heapTotalBytes: number; heapUsedBytes: number; externalBytes: number; arrayBuffersBytes: number }

/** The process's memory as node reports it (docs/metrics.md, `GET /stats`); read per call, never sampled on the hot path. */
export function memoryStats(): MemoryStats {
  const m = process.memoryUsage()
  return { rssBytes: m.rss, heapTotalBytes: m.heapTotal, heapUsedBytes: m.heapUsed, externalBytes: m.external, arrayBuffersBytes: m.arrayBuffers }
}

/** `GET /snapshot`: the live numbers and the last minute. */
export type LiveSnapshotWithHistory = LiveSnapshot & { history: LivePoint[] }

/** What one process adds to a cluster's live numbers. */
export interface LivePart {
  live: LiveExport
  totals: LiveSnapshot['totals']
  store: LiveSnapshot['store']
  origins: LiveSnapshot['origins']
  bansPending: number
}

export interface AdminSource {
  /** the running config (swapped by a reload): purge URLs are routed by its rules */
  readonly config: ResolvedConfig
  /** who may call the guarded endpoints (rebuilt by a reload) */
  readonly trust: TrustGuard
  readonly log: Logger
  stats(): Promise<AdminStats>
  snapshot(): Promise<LiveSnapshotWithHistory>
  /** the Prometheus exposition */
  metrics(): Promise<string>
  /** counted as one purge request and applied everywhere the bus reaches */
  purge(command: InvalidationCommand, waitForBans: boolean): Promise<InvalidationReceipt>
  bans(): Promise<BanList>
  esiPages(): Promise<EsiPageReport[]>
  /** re-reads the config file and swaps it in, resolving with the warnings; absent when started without one */
  readonly reload?: () => Promise<string[]>
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE

/** The admin view of one process: its own counters, store, live numbers and invalidator. */
export class LocalAdminSource implements AdminSource {
  private registry?: Registry

  constructor(
    private readonly ctx: ProxyContext,
    readonly reload?: () => Promise<string[]>,
    private readonly originHealth: OriginHealth = () => new Map(ctx.origin.backends.map((b) => [b.name, b.isHealthy])),
  ) {}

  get config(): ResolvedConfig { return this.ctx.config }
  get trust(): TrustGuard { return this.ctx.trust }
  get log(): Logger { return this.ctx.log }

  async stats(): Promise<AdminStats> {
    const { ctx } = this
    const store = ctx.store.stats()
    const c = ctx.counters
    return {
      uptimeSeconds: Math.floor(process.uptime()),
      requests: c.requests,
      hits: c.hits,
      misses: c.misses,
      passes: c.passes,
      synths: c.synths,
      coalesced: c.coalesced,
      revalidations: c.revalidations,
      purges: c.purges,
      accessLogDropped: ctx.observer.accessLog?.dropped ?? 0,
      originRequests: c.originRequests,
      originErrors: c.originErrors,
      incompleteBodies: c.incompleteBodies,
      staleOnError: c.staleOnError,
      waitersShed: c.waitersShed,
      hitForMissKeys: ctx.hitForMiss.size,
      origins: ctx.origin.stats(),
      memory: memoryStats(),
      store: { type: ctx.store.name, objects: store.objects, bytes: store.bytes, maxBytes: store.maxBytes, evictions: store.evictions },
      rules: ctx.config.rules.map((r) => r.name),
    }
  }

  /** The numbers of the dashboard's tick. */
  liveSnapshot(): LiveSnapshot {
    const { ctx } = this
    const store = ctx.store.stats()
    return {
      point: ctx.observer.live.point(),
      totals: Object.fromEntries(REQUEST_STATES.map((state, i) => [state, ctx.observer.values.requests[i]!])) as LiveSnapshot['totals'],
      ...ctx.observer.live.lastMinute(),
      store: { objects: store.objects, bytes: store.bytes, maxBytes: store.maxBytes, evictions: store.evictions },
      origins: [...this.originHealth()].map(([name, healthy]) => ({ name, healthy })),
      bansPending: ctx.invalidator.pendingBans,
    }
  }

  async snapshot(): Promise<LiveSnapshotWithHistory> {
    return { ...this.liveSnapshot(), history: this.ctx.observer.live.history() }
  }

  /** This process's share of a cluster's live numbers (the primary merges them). */
  livePart(): LivePart {
    const { totals, store, origins, bansPending } = this.liveSnapshot()
    return { live: this.ctx.observer.live.export(), totals, store, origins, bansPending }
  }

  metrics(): Promise<string> {
    return this.metricRegistry().metrics()
  }

  /** The metrics as prom-client's JSON, for a cluster's primary to aggregate. */
  metricsJson(): ReturnType<Registry['getMetricsAsJSON']> {
    return this.metricRegistry().getMetricsAsJSON()
  }

  purge(command: InvalidationCommand, waitForBans: boolean): Promise<InvalidationReceipt> {
    this.ctx.counters.purges++
    return this.ctx.bus.publish(command, { waitForBans })
  }

  /** Applies a command to this process only (a cluster worker, told by its primary); `isCounted`: count it as a purge request here. */
  applyHere(command: InvalidationCommand, waitForBans: boolean, isCounted: boolean): Promise<InvalidationReceipt> {
    if (isCounted) this.ctx.counters.purges++
    return this.ctx.invalidator.apply(command, waitForBans)
  }

  async bans(): Promise<BanList> {
    return this.ctx.invalidator.listBans()
  }

  async esiPages(): Promise<EsiPageReport[]> {
    return recentEsiPages(this.ctx)
  }

  /** Built on first use: a worker never asked for its metrics never builds one. */
  private metricRegistry(): Registry {
    const { ctx } = this
    this.registry ??= createRegistry({
      values: ctx.observer.values,
      counters: () => ctx.counters,
      store: () => ctx.store.stats(),
      bansPending: () => ctx.invalidator.pendingBans,
      accessLogDropped: () => ctx.observer.accessLog?.dropped ?? 0,
      originHealth: this.originHealth,
    })
    return this.registry
  }
}
