/**
 * @module observe/observer
 * Where the state machines report what happened — one call per finished request, one per
 * origin fetch — and where metrics, the live dashboard's numbers and the access log are fed
 * from. Mechanism reports facts; it never formats or aggregates anything itself.
 */
import { getFirst } from '../http-cache/header-list.js'
import type { Transaction } from '../fsm/transaction.js'
import type { AccessLog } from './access-log.js'
import { LiveStats } from './live.js'
import { bucketOf, FETCH_MODES, type MetricValues, MetricValues as Values, REQUEST_STATES, type RequestState } from './metrics.js'

/** The final state of a request, from what it went through (its trace and flags). */
export function finalState(tx: Transaction): RequestState {
  const { trace } = tx
  if (trace.includes('synth')) return 'synth'
  if (trace.includes('purge')) return 'purge'
  if (tx.isStaleWhileRevalidate || tx.serveStaleOnError) return 'stale'
  if (trace.includes('pass')) return 'pass'
  if (tx.cacheStatus.collapsed) return 'coalesced'
  if (trace.includes('hit')) return 'hit'
  return 'miss'
}

const STATE_INDEX = new Map(REQUEST_STATES.map((s, i) => [s, i]))
const MODE_INDEX = new Map(FETCH_MODES.map((m, i) => [m, i]))

export class Observer {
  readonly values: MetricValues = new Values()
  readonly live = new LiveStats()
  accessLog?: AccessLog

  /**
   * @param isCounting false only for benchmarks (`LACQUER_BENCH_METRICS=off`, or switched by
   * observe/bench-toggle.ts; see
   * bench/observe-overhead.mjs): requests are then not counted in the metrics nor the live
   * numbers, so that a benchmark can tell what counting costs. Not a user feature.
   */
  constructor(public isCounting = true) {}

  /** A client request has finished (its response complete, aborted or refused). */
  request(tx: Transaction): void {
    const state = finalState(tx)
    const ms = performance.now() - tx.startedAtHr
    // an aborted response that sent nothing is counted as the 500 it stands for
    const status = tx.sink.status || 500
    const { request } = tx
    if (this.isCounting) this.count(state, status, tx.sink.bytesSent, request.host, request.path, ms, tx.startedAt + ms)
    this.accessLog?.request(request.clientAddress, tx.startedAt, request.method, request.target ?? request.path, request.httpVersion, request.host, status, tx.sink.bytesSent,
      getFirst(request.headers, 'referer'), getFirst(request.headers, 'user-agent'), state, ms, tx.originMs, tx.id)
  }

  /**
   * A request refused before it became a transaction (malformed: bad Host, too large, a parse
   * error): counted as synth with its status; `url` is absent when the request line was unreadable.
   */
  refused(status: number, remote: string, method: string | undefined, url: string | undefined, host: string | undefined, bytes: number): void {
    const now = Date.now()
    if (this.isCounting) this.count('synth', status, bytes, url === undefined ? '' : host ?? '', url ?? '(malformed request)', 0, now)
    this.accessLog?.request(remote, now, method ?? '-', url ?? '-', undefined, host ?? '', status, bytes, undefined, undefined, 'synth', 0, undefined, 0)
  }

  /**
   * The metrics and live numbers of one finished request (at `nowMs`): O(1), no allocation for
   * a hit, no clock read (the caller knows the time).
   */
  private count(state: RequestState, status: number, bytes: number, host: string, path: string, ms: number, nowMs: number): void {
    const v = this.values
    const i = STATE_INDEX.get(state)!
    const bucket = bucketOf(ms / 1000)
    v.requests[i]!++
    v.durations[i]!.observeIn(bucket, ms / 1000)
    v.responses[status]!++
    v.responseBytes += bytes
    this.live.request(state, host, path, ms, nowMs, bucket)
  }

  /** Objects invalidated by a purge (kind: url, tag, ban; mode: hard, soft). */
  invalidated(kind: string, mode: string, count: number): void {
    if (count === 0) return
    const key = `${kind} ${mode}`
    this.values.invalidated.set(key, (this.values.invalidated.get(key) ?? 0) + count)
  }

  /** An origin fetch got its response head (isOk) or failed. */
  fetch(mode: (typeof FETCH_MODES)[number], isOk: boolean, ms: number): void {
    const m = MODE_INDEX.get(mode)!
    this.values.fetches[m]![isOk ? 0 : 1]!++
    if (isOk) this.values.originDurations[m]!.observe(ms / 1000)
    this.live.origin(isOk)
  }
}
