/**
 * @module observe/live
 * The numbers of the live dashboard and `lacquer stat`, second by second: requests per second
 * by state, hit ratio, latency p50/p95/p99, origin requests and errors, the most missed and
 * the slowest URLs of the last minute. Recording is O(1) per request (a slot of a 60-second
 * ring; the per-second URL maps are bounded); the aggregation runs once per second, not per
 * request, so the dashboard stays cheap under a spike.
 */
import { Buckets, bucketOf, REQUEST_STATES, type RequestState } from './metrics.js'

/** URLs remembered per second beyond which the rest count as one "(other URLs)". */
const MAX_URLS_PER_SECOND = 256
const SLOWEST_PER_SECOND = 10
const HISTORY_SECONDS = 60

interface Second {
  /** epoch seconds */
  t: number
  requests: number[]
  latency: Buckets
  originRequests: number
  originErrors: number
  missed: Map<string, number>
  slowest: Array<{ url: string; ms: number; state: RequestState }>
  /** the smallest ms among `slowest` once it is full (Infinity: not computed) */
  slowestMin: number
}

const STATE_INDEX = Object.fromEntries(REQUEST_STATES.map((s, i) => [s, i])) as Record<RequestState, number>

function emptySecond(t: number): Second {
  return { t, requests: REQUEST_STATES.map(() => 0), latency: new Buckets(), originRequests: 0, originErrors: 0, missed: new Map(), slowest: [], slowestMin: Infinity }
}

function resetSecond(s: Second, t: number): void {
  s.t = t
  s.requests.fill(0)
  s.latency.reset()
  s.originRequests = 0
  s.originErrors = 0
  s.missed.clear()
  s.slowest.length = 0
  s.slowestMin = Infinity
}

export interface LivePoint {
  /** epoch seconds of the (complete) second these numbers describe */
  t: number
  /** requests in that second by state */
  requests: Record<RequestState, number>
  total: number
  /** (hit + stale + coalesced) / lookups, 0..1; null when there were no lookups */
  hitRatio: number | null
  /** latency quantiles in ms (bucket upper bounds) */
  p50: number
  p95: number
  p99: number
  originRequests: number
  originErrors: number
}

export interface LiveSnapshot {
  point: LivePoint
  /** requests by final state since the proxy started */
  totals: Record<RequestState, number>
  /** the most missed URLs over the last minute */
  topMissed: Array<{ url: string; misses: number }>
  /** the slowest requests over the last minute */
  slowest: Array<{ url: string; ms: number; state: RequestState }>
  store: { objects: number; bytes: number; maxBytes: number; evictions: number }
  origins: Array<{ name: string; healthy: boolean }>
  bansPending: number
}

/**
 * One process's last minute as plain numbers another process can add to its own: a cluster's
 * primary merges its workers' (`LiveStats.merge`) to show one dashboard.
 */
export interface LiveExport {
  seconds: Array<{ t: number; requests: number[]; latency: number[]; latencySum: number; originRequests: number; originErrors: number }>
  /** the minute's most missed URLs, more of them than a snapshot shows, so that the merged top ten stays right */
  topMissed: LiveSnapshot['topMissed']
  slowest: LiveSnapshot['slowest']
}

/** Missed URLs each process exports for a merge. */
const EXPORTED_MISSED = 100

export class LiveStats {
  private readonly ring: Second[]
  private current: Second
  /** other processes' minute (set by merge only) */
  private merged?: Pick<LiveExport, 'topMissed' | 'slowest'>

  constructor(now = Date.now()) {
    const t = Math.floor(now / 1000)
    this.ring = Array.from({ length: HISTORY_SECONDS + 1 }, (_, i) => emptySecond(t - HISTORY_SECONDS + i))
    this.current = this.slot(t)
  }

  private slot(t: number): Second {
    const s = this.ring[t % this.ring.length]!
    if (s.t !== t) resetSecond(s, t)
    return s
  }

  private now(nowMs = Date.now()): Second {
    const t = Math.floor(nowMs / 1000)
    if (this.current.t !== t) this.current = this.slot(t)
    return this.current
  }

  /**
   * One finished client request (at `nowMs`, when the caller knows it; `bucket`: the latency's
   * bucketOf, when the caller has found it). The URL is `host + path`, joined only when it is
   * kept (a miss, or among the second's slowest): a hit costs no string.
   */
  request(state: RequestState, host: string, path: string, ms: number, nowMs?: number, bucket = bucketOf(ms / 1000)): void {
    const s = this.now(nowMs)
    s.requests[STATE_INDEX[state]]!++
    s.latency.observeIn(bucket, ms / 1000)
    if (state === 'miss' || state === 'pass') {
      const url = host + path
      const key = s.missed.size < MAX_URLS_PER_SECOND || s.missed.has(url) ? url : '(other URLs)'
      s.missed.set(key, (s.missed.get(key) ?? 0) + 1)
    }
    const slow = s.slowest
    if (slow.length < SLOWEST_PER_SECOND) slow.push({ url: host + path, ms, state })
    else if (ms > s.slowestMin) {
      let min = 0
      for (let i = 1; i < slow.length; i++) if (slow[i]!.ms < slow[min]!.ms) min = i
      slow[min] = { url: host + path, ms, state }
      s.slowestMin = Infinity
      for (const entry of slow) if (entry.ms < s.slowestMin) s.slowestMin = entry.ms
    }
    if (slow.length === SLOWEST_PER_SECOND && s.slowestMin === Infinity) s.slowestMin = Math.min(...slow.map((e) => e.ms))
  }

  origin(isOk: boolean): void {
    const s = this.now()
    s.originRequests++
    if (!isOk) s.originErrors++
  }

  /** The numbers of one complete second (default: the last one). */
  point(t = Math.floor(Date.now() / 1000) - 1): LivePoint {
    const s = this.ring[t % this.ring.length]!
    const isValid = s.t === t
    const requests = Object.fromEntries(REQUEST_STATES.map((state, i) => [state, isValid ? s.requests[i]! : 0])) as Record<RequestState, number>
    const total = REQUEST_STATES.reduce((n, state) => n + requests[state], 0)
    const served = requests.hit + requests.stale + requests.coalesced
    const lookups = served + requests.miss
    const latency = isValid ? s.latency : new Buckets()
    return {
      t, requests, total,
      hitRatio: lookups ? served / lookups : null,
      p50: latency.quantile(0.5) * 1000, p95: latency.quantile(0.95) * 1000, p99: latency.quantile(0.99) * 1000,
      originRequests: isValid ? s.originRequests : 0, originErrors: isValid ? s.originErrors : 0,
    }
  }

  /** The last `seconds` complete seconds, oldest first. */
  history(seconds = HISTORY_SECONDS): LivePoint[] {
    const last = Math.floor(Date.now() / 1000) - 1
    return Array.from({ length: seconds }, (_, i) => this.point(last - seconds + 1 + i))
  }

  /** The most missed and the slowest URLs over the last minute. */
  lastMinute(top = 10): Pick<LiveSnapshot, 'topMissed' | 'slowest'> {
    const since = Math.floor(Date.now() / 1000) - HISTORY_SECONDS
    const missed = new Map<string, number>()
    const slowest: LiveSnapshot['slowest'] = []
    for (const s of this.ring) {
      if (s.t < since) continue
      for (const [url, n] of s.missed) missed.set(url, (missed.get(url) ?? 0) + n)
      slowest.push(...s.slowest)
    }
    for (const { url, misses } of this.merged?.topMissed ?? []) missed.set(url, (missed.get(url) ?? 0) + misses)
    slowest.push(...(this.merged?.slowest ?? []))
    return {
      topMissed: [...missed].sort((a, b) => b[1] - a[1]).slice(0, top).map(([url, misses]) => ({ url, misses })),
      slowest: slowest.sort((a, b) => b.ms - a.ms).slice(0, 10),
    }
  }

  /** The last minute (and the second under way) for a merge in another process. */
  export(): LiveExport {
    const since = Math.floor(Date.now() / 1000) - HISTORY_SECONDS
    const seconds = this.ring.filter((s) => s.t >= since).map((s) => ({
      t: s.t, requests: s.requests.slice(), latency: Array.from(s.latency.counts), latencySum: s.latency.sum,
      originRequests: s.originRequests, originErrors: s.originErrors,
    }))
    return { seconds, ...this.lastMinute(EXPORTED_MISSED) }
  }

  /** Several processes' minutes added up into one (which then answers point, history and lastMinute). */
  static merge(parts: readonly LiveExport[]): LiveStats {
    const live = new LiveStats()
    // parts taken either side of a second boundary: the oldest second of one would share a slot with the newest of another
    const since = Math.floor(Date.now() / 1000) - HISTORY_SECONDS
    const topMissed: LiveExport['topMissed'] = []
    const slowest: LiveExport['slowest'] = []
    for (const part of parts) {
      for (const second of part.seconds) {
        if (second.t < since) continue
        const s = live.slot(second.t)
        second.requests.forEach((n, i) => { s.requests[i]! += n })
        second.latency.forEach((n, i) => { s.latency.counts[i]! += n; s.latency.count += n })
        s.latency.sum += second.latencySum
        s.originRequests += second.originRequests
        s.originErrors += second.originErrors
      }
      topMissed.push(...part.topMissed)
      slowest.push(...part.slowest)
    }
    live.merged = { topMissed, slowest }
    return live
  }
}
