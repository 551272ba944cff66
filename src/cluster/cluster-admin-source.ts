/**
 * @module cluster/cluster-admin-source
 * The admin port of `lacquer serve --workers N`, served by the primary: every endpoint asks the
 * workers and adds their answers up. Counters and store sizes are summed; an origin is healthy
 * only when every worker finds it so; the live numbers are merged second by second (latency
 * percentiles from the summed buckets, never averaged); /metrics goes through prom-client's
 * AggregatorRegistry (each metric's `aggregator` in the catalog says sum, min or max); a purge
 * is applied in every worker and answered with the receipts summed.
 */
import { AggregatorRegistry } from 'prom-client'
import type { AdminSource, AdminStats, BanList, LivePart, LiveSnapshotWithHistory } from '../admin/admin-source.js'
import type { ResolvedConfig } from '../config/resolve.js'
import { ESI_REPORT_SIZE, type EsiPageReport } from '../esi/report.js'
import type { InvalidationCommand, InvalidationReceipt } from '../invalidate/invalidator.js'
import type { TrustGuard } from '../invalidate/trust.js'
import { LiveStats, type LiveSnapshot } from '../observe/live.js'
import type { Logger } from '../observe/logger.js'
import { REQUEST_STATES } from '../observe/metrics.js'
import type { OriginSetStats } from '../origin/origin-set.js'

export interface WorkerAnswer<T> {
  /** node:cluster's worker id (a restarted worker gets a new one) */
  id: number
  pid: number
  startedAt: number
  value: T
}

/** The primary's reach into its workers. */
export interface WorkerFleet {
  /** every ready worker's answer to `op`; a worker that does not answer in time is left out */
  ask<T>(op: string): Promise<Array<WorkerAnswer<T>>>
  /** applies a command in every worker (starting ones too), counted as one purge request; the receipts summed */
  apply(command: InvalidationCommand, waitForBans: boolean): Promise<InvalidationReceipt>
  /** workers started again after they died */
  readonly restarts: number
  /** access log lines the primary dropped because stdout or stderr could not keep up */
  readonly accessLogDropped: number
}

/** The /stats fields that add up across workers. */
const SUMMED = ['requests', 'hits', 'misses', 'passes', 'synths', 'coalesced', 'revalidations', 'purges', 'accessLogDropped',
  'originRequests', 'originErrors', 'incompleteBodies', 'staleOnError', 'waitersShed', 'hitForMissKeys'] as const satisfies ReadonlyArray<keyof AdminStats>

export class ClusterAdminSource implements AdminSource {
  constructor(
    private readonly fleet: WorkerFleet,
    /** swapped by the primary on a reload */
    public config: ResolvedConfig,
    public trust: TrustGuard,
    readonly log: Logger,
    readonly reload?: () => Promise<string[]>,
  ) {}

  async stats(): Promise<AdminStats> {
    const answers = await this.fleet.ask<AdminStats>('stats')
    const all = answers.map((a) => a.value)
    const sum = (pick: (s: AdminStats) => number) => all.reduce((n, s) => n + pick(s), 0)
    const counters = Object.fromEntries(SUMMED.map((key) => [key, sum((s) => s[key])])) as Record<(typeof SUMMED)[number], number>
    counters.accessLogDropped += this.fleet.accessLogDropped
    const now = Date.now()
    return {
      uptimeSeconds: Math.floor(process.uptime()),
      ...counters,
      origins: this.mergeOrigins(all.map((s) => s.origins)),
      store: {
        type: all[0]?.store.type ?? 'memory', objects: sum((s) => s.store.objects), bytes: sum((s) => s.store.bytes),
        maxBytes: sum((s) => s.store.maxBytes), evictions: sum((s) => s.store.evictions),
      },
      memory: {
        rssBytes: sum((s) => s.memory.rssBytes), heapTotalBytes: sum((s) => s.memory.heapTotalBytes), heapUsedBytes: sum((s) => s.memory.heapUsedBytes),
        externalBytes: sum((s) => s.memory.externalBytes), arrayBuffersBytes: sum((s) => s.memory.arrayBuffersBytes),
      },
      rules: this.config.rules.map((r) => r.name),
      workers: answers.map((a) => ({
        id: a.id, pid: a.pid, uptimeSeconds: Math.floor((now - a.startedAt) / 1000), requests: a.value.requests, hits: a.value.hits, objects: a.value.store.objects,
      })),
      workerRestarts: this.fleet.restarts,
    }
  }

  /** Each worker has its own pools and probes: counts add up, an origin is healthy only if healthy everywhere. */
  private mergeOrigins(all: OriginSetStats[]): OriginSetStats {
    const [first] = all
    if (!first) return { director: this.config.director.type, healthy: 0, origins: [] }
    const origins = first.origins.map((origin, i) => {
      const each = all.map((s) => s.origins[i]!).filter(Boolean)
      const sum = (pick: (o: typeof origin) => number) => each.reduce((n, o) => n + pick(o), 0)
      return {
        ...origin, isHealthy: each.every((o) => o.isHealthy),
        inFlight: sum((o) => o.inFlight), requests: sum((o) => o.requests), errors: sum((o) => o.errors), queueFull: sum((o) => o.queueFull),
      }
    })
    return { director: first.director, healthy: origins.filter((o) => o.isHealthy).length, origins }
  }

  async snapshot(): Promise<LiveSnapshotWithHistory> {
    const parts = (await this.fleet.ask<LivePart>('live')).map((a) => a.value)
    const live = LiveStats.merge(parts.map((p) => p.live))
    const sum = (pick: (p: LivePart) => number) => parts.reduce((n, p) => n + pick(p), 0)
    const healthy = new Map<string, boolean>()
    for (const part of parts) for (const { name, healthy: isHealthy } of part.origins) healthy.set(name, (healthy.get(name) ?? true) && isHealthy)
    return {
      point: live.point(),
      totals: Object.fromEntries(REQUEST_STATES.map((state) => [state, sum((p) => p.totals[state])])) as LiveSnapshot['totals'],
      ...live.lastMinute(),
      store: { objects: sum((p) => p.store.objects), bytes: sum((p) => p.store.bytes), maxBytes: sum((p) => p.store.maxBytes), evictions: sum((p) => p.store.evictions) },
      origins: [...healthy].map(([name, isHealthy]) => ({ name, healthy: isHealthy })),
      bansPending: Math.max(0, ...parts.map((p) => p.bansPending)),
      history: live.history(),
    }
  }

  async metrics(): Promise<string> {
    const answers = await this.fleet.ask<object[]>('metrics')
    return AggregatorRegistry.aggregate(answers.map((a) => a.value)).metrics()
  }

  purge(command: InvalidationCommand, waitForBans: boolean): Promise<InvalidationReceipt> {
    return this.fleet.apply(command, waitForBans)
  }

  /**
   * Every worker got the same bans in the same order, but sweeps on its own: a ban is listed
   * while any worker still holds it, with the workers' counts added up.
   */
  async bans(): Promise<BanList> {
    const lists = (await this.fleet.ask<BanList>('bans')).map((a) => a.value)
    const merged = new Map<string, BanList['bans'][number]>()
    for (const list of lists) {
      const seen = new Map<string, number>()
      for (const ban of list.bans) {
        const spec = `${ban.mode} ${ban.host ?? ''} ${ban.prefix ?? ''} ${ban.pattern ?? ''}`
        const n = (seen.get(spec) ?? 0) + 1
        seen.set(spec, n)
        const key = `${spec} #${n}`
        const total = merged.get(key)
        if (total) { total.tested += ban.tested; total.invalidated += ban.invalidated } else merged.set(key, { ...ban })
      }
    }
    return {
      bans: [...merged.values()],
      sweeper: {
        passes: lists.reduce((n, l) => n + l.sweeper.passes, 0),
        lastPassObjects: lists.reduce((n, l) => n + l.sweeper.lastPassObjects, 0),
        lastPassMs: Math.max(0, ...lists.map((l) => l.sweeper.lastPassMs)),
        isRunning: lists.some((l) => l.sweeper.isRunning),
      },
    }
  }

  async esiPages(): Promise<EsiPageReport[]> {
    const pages = (await this.fleet.ask<EsiPageReport[]>('esi')).flatMap((a) => a.value)
    return pages.sort((a, b) => b.at - a.at).slice(0, ESI_REPORT_SIZE)
  }
}
