/**
 * @module observe/metrics
 * The one catalog of Lacquer's metrics: name, type, unit, labels and help, declared once.
 * The Prometheus exposition (`GET /metrics` on the admin port, via prom-client) and
 * docs/metrics.md are generated from it; a test keeps the two in sync. Names follow the
 * Prometheus conventions: `lacquer_` prefix, base units (seconds, bytes), `_total` counters.
 *
 * The hot path never formats a label: each request's counters are plain numbers bumped in
 * arrays indexed by state (O(1), no allocation); prom-client reads them at scrape time
 * through `collect`. Histograms keep their own fixed buckets the same way.
 */
import client from 'prom-client'

export type MetricType = 'counter' | 'gauge' | 'histogram'

export interface MetricSpec {
  readonly type: MetricType
  readonly help: string
  readonly unit?: 'seconds' | 'bytes'
  readonly labels: readonly string[]
  /** how the workers' values add up in the primary's /metrics (default: sum) */
  readonly aggregator?: 'min' | 'max'
}

/** Final states of a client request, as counted and charted. */
export const REQUEST_STATES = ['hit', 'stale', 'miss', 'coalesced', 'pass', 'synth', 'purge'] as const
export type RequestState = (typeof REQUEST_STATES)[number]

/** Fetch modes (fetch/fetch-task.ts) and how a fetch ended. */
export const FETCH_MODES = ['miss', 'pass', 'background'] as const
export const FETCH_RESULTS = ['ok', 'error'] as const

/** Latency bucket upper bounds (seconds), shared by every duration histogram. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const

export const METRICS = {
  lacquer_requests_total: { type: 'counter', help: 'Client requests by final state (hit, stale, miss, coalesced, pass, synth, purge)', labels: ['state'] },
  lacquer_responses_total: { type: 'counter', help: 'Client responses by status code', labels: ['code'] },
  lacquer_request_duration_seconds: { type: 'histogram', unit: 'seconds', help: 'Time from a request\'s arrival to the end of its response, by final state', labels: ['state'] },
  lacquer_response_bytes_total: { type: 'counter', unit: 'bytes', help: 'Body bytes sent to clients', labels: [] },
  lacquer_origin_fetches_total: { type: 'counter', help: 'Origin fetches by mode (miss, pass, background) and result (ok, error)', labels: ['mode', 'result'] },
  lacquer_origin_duration_seconds: { type: 'histogram', unit: 'seconds', help: 'Time from sending an origin request to its response head, by mode', labels: ['mode'] },
  lacquer_coalesced_waiters_total: { type: 'counter', help: 'Requests that waited for a fetch already under way instead of fetching themselves', labels: [] },
  lacquer_revalidations_total: { type: 'counter', help: 'Stored responses revalidated with a 304 from the origin', labels: [] },
  lacquer_store_objects: { type: 'gauge', help: 'Objects in the store', labels: [] },
  lacquer_store_bytes: { type: 'gauge', unit: 'bytes', help: 'Bytes the store holds (bodies, headers, overhead)', labels: [] },
  lacquer_store_max_bytes: { type: 'gauge', unit: 'bytes', help: 'The store\'s size limit', labels: [] },
  lacquer_store_evictions_total: { type: 'counter', help: 'Objects evicted to make room (LRU or a user\'s bound)', labels: [] },
  lacquer_purges_total: { type: 'counter', help: 'Invalidation requests accepted (PURGE, POST /purge)', labels: [] },
  lacquer_invalidated_objects_total: { type: 'counter', help: 'Objects invalidated, by kind (url, tag, ban) and mode (hard, soft)', labels: ['kind', 'mode'] },
  lacquer_bans_pending: { type: 'gauge', help: 'Bans waiting for the sweeper', labels: [], aggregator: 'max' },
  lacquer_esi_includes_total: { type: 'counter', help: 'ESI includes fetched, by result (ok, error)', labels: ['result'] },
  lacquer_esi_errors_total: { type: 'counter', help: 'ESI processing errors (malformed markup, failed includes without alt or onerror)', labels: [] },
  lacquer_access_log_dropped_total: { type: 'counter', help: 'Access log lines dropped because the output could not keep up or failed', labels: [] },
  lacquer_origin_healthy: { type: 'gauge', help: 'Whether each origin is healthy (1) or sick (0)', labels: ['origin'], aggregator: 'min' },
} as const satisfies Record<string, MetricSpec>

export type MetricName = keyof typeof METRICS

/** The index of the LATENCY_BUCKETS bucket `seconds` falls in (LATENCY_BUCKETS.length: above all). */
export function bucketOf(seconds: number): number {
  let i = 0
  while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++
  return i
}

/** A fixed-bucket histogram over LATENCY_BUCKETS: observe is a short loop, no allocation. */
export class Buckets {
  readonly counts = new Float64Array(LATENCY_BUCKETS.length + 1)
  sum = 0
  count = 0

  observe(seconds: number): void {
    this.observeIn(bucketOf(seconds), seconds)
  }

  /** observe, the bucket already found by bucketOf (one search for several histograms) */
  observeIn(bucket: number, seconds: number): void {
    this.counts[bucket]!++
    this.sum += seconds
    this.count++
  }

  /** The q-quantile (0..1) estimated from the buckets (upper bound of the bucket it falls in). */
  quantile(q: number): number {
    if (this.count === 0) return 0
    const rank = q * this.count
    let seen = 0
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!
      if (seen >= rank) return i < LATENCY_BUCKETS.length ? LATENCY_BUCKETS[i]! : LATENCY_BUCKETS[LATENCY_BUCKETS.length - 1]! * 2
    }
    return LATENCY_BUCKETS[LATENCY_BUCKETS.length - 1]!
  }

  add(other: Buckets): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!
    this.sum += other.sum
    this.count += other.count
  }

  reset(): void {
    this.counts.fill(0)
    this.sum = 0
    this.count = 0
  }
}

/** The numbers the hot path bumps; read by the exposition, the dashboard and /stats. */
export class MetricValues {
  readonly requests = new Float64Array(REQUEST_STATES.length)
  readonly durations = REQUEST_STATES.map(() => new Buckets())
  /** by status code (100–999, as node:http allows), so that counting one is an array increment */
  readonly responses = new Float64Array(1000)
  responseBytes = 0
  /** [mode][result] */
  readonly fetches = FETCH_MODES.map(() => new Float64Array(FETCH_RESULTS.length))
  readonly originDurations = FETCH_MODES.map(() => new Buckets())
  /** `${kind} ${mode}` → count */
  readonly invalidated = new Map<string, number>()
  esiIncludes = { ok: 0, error: 0 }
  esiErrors = 0
}

export interface MetricSources {
  values: MetricValues
  /** the state machines' counters (context.ts) */
  counters(): { coalesced: number; revalidations: number; purges: number }
  store(): { objects: number; bytes: number; maxBytes: number; evictions: number }
  bansPending(): number
  accessLogDropped(): number
  /** origin name → healthy */
  originHealth(): ReadonlyMap<string, boolean>
}

/** Builds the prom-client registry from the catalog; every value is read from `sources` at scrape time. */
export function createRegistry(sources: MetricSources): client.Registry {
  const registry = new client.Registry()
  const v = sources.values
  const collectors: Record<MetricName, (metric: any) => void> = {
    lacquer_requests_total: (m: client.Counter) => { m.reset(); REQUEST_STATES.forEach((state, i) => m.inc({ state }, v.requests[i]!)) },
    lacquer_responses_total: (m: client.Counter) => { m.reset(); v.responses.forEach((n, code) => { if (n > 0) m.inc({ code: String(code) }, n) }) },
    lacquer_request_duration_seconds: (m: HistogramLike) => setHistogram(m, REQUEST_STATES.map((state, i) => [{ state }, v.durations[i]!])),
    lacquer_response_bytes_total: (m: client.Counter) => { m.reset(); m.inc(v.responseBytes) },
    lacquer_origin_fetches_total: (m: client.Counter) => {
      m.reset()
      FETCH_MODES.forEach((mode, i) => FETCH_RESULTS.forEach((result, j) => m.inc({ mode, result }, v.fetches[i]![j]!)))
    },
    lacquer_origin_duration_seconds: (m: HistogramLike) => setHistogram(m, FETCH_MODES.map((mode, i) => [{ mode }, v.originDurations[i]!])),
    lacquer_coalesced_waiters_total: (m: client.Counter) => { m.reset(); m.inc(sources.counters().coalesced) },
    lacquer_revalidations_total: (m: client.Counter) => { m.reset(); m.inc(sources.counters().revalidations) },
    lacquer_store_objects: (m: client.Gauge) => m.set(sources.store().objects),
    lacquer_store_bytes: (m: client.Gauge) => m.set(sources.store().bytes),
    lacquer_store_max_bytes: (m: client.Gauge) => m.set(sources.store().maxBytes),
    lacquer_store_evictions_total: (m: client.Counter) => { m.reset(); m.inc(sources.store().evictions) },
    lacquer_purges_total: (m: client.Counter) => { m.reset(); m.inc(sources.counters().purges) },
    lacquer_invalidated_objects_total: (m: client.Counter) => {
      m.reset()
      for (const [key, n] of v.invalidated) { const [kind, mode] = key.split(' '); m.inc({ kind: kind!, mode: mode! }, n) }
    },
    lacquer_bans_pending: (m: client.Gauge) => m.set(sources.bansPending()),
    lacquer_esi_includes_total: (m: client.Counter) => { m.reset(); m.inc({ result: 'ok' }, v.esiIncludes.ok); m.inc({ result: 'error' }, v.esiIncludes.error) },
    lacquer_esi_errors_total: (m: client.Counter) => { m.reset(); m.inc(v.esiErrors) },
    lacquer_access_log_dropped_total: (m: client.Counter) => { m.reset(); m.inc(sources.accessLogDropped()) },
    lacquer_origin_healthy: (m: client.Gauge) => { m.reset(); for (const [origin, ok] of sources.originHealth()) m.set({ origin }, ok ? 1 : 0) },
  }
  for (const [name, spec] of Object.entries(METRICS) as Array<[MetricName, MetricSpec]>) {
    const collect = collectors[name]
    const common = { name, help: spec.help, labelNames: [...spec.labels], registers: [registry], aggregator: spec.aggregator ?? ('sum' as const) }
    if (spec.type === 'counter') new client.Counter({ ...common, collect() { collect(this) } })
    else if (spec.type === 'gauge') new client.Gauge({ ...common, collect() { collect(this) } })
    else new client.Histogram({ ...common, buckets: [...LATENCY_BUCKETS], collect() { collect(this) } })
  }
  return registry
}

type HistogramLike = client.Histogram & { hashMap: Record<string, { labels: Record<string, string>; bucketValues: Record<number, number>; sum: number; count: number }> }

/**
 * prom-client histograms only observe; ours are kept as buckets, so the exposition's state
 * is replaced with them at scrape time (non-cumulative counts; prom-client accumulates).
 */
function setHistogram(metric: HistogramLike, series: Array<[Record<string, string>, Buckets]>): void {
  metric.reset()
  for (const [labels, buckets] of series) {
    // one observation creates the labelled series; its values are then overwritten
    metric.observe(labels, 0)
    const entry = Object.values(metric.hashMap).find((e) => Object.entries(labels).every(([k, val]) => e.labels[k] === val))
    if (!entry) continue
    LATENCY_BUCKETS.forEach((upper, i) => { entry.bucketValues[upper] = buckets.counts[i]! })
    entry.sum = buckets.sum
    entry.count = buckets.count
  }
}
