/**
 * @module observe/bench-toggle
 * A benchmark switch, not a user feature (bench/observe-overhead.mjs --alternate): with
 * `LACQUER_BENCH_OBSERVE_TOGGLE_MS=N` the observer's counting and the access log (or only one of
 * them: `LACQUER_BENCH_OBSERVE_TOGGLE=metrics|log`; `none` switches nothing, a control) are turned off
 * and on again every N ms in this one process, and the CPU time and hits of each phase are
 * added up. SIGUSR2 writes the sums, and each phase's own figures in order (`phases`: on, off,
 * on, … — so that a benchmark can compare each phase with its neighbours and give the spread of
 * the difference), to stderr as one JSON line and starts them again from zero. Both halves run in the same
 * process, JIT state and memory layout, so their difference is what observing costs, without
 * the spread between separately started processes.
 */
import type { ProxyContext } from '../context.js'

export interface PhaseTotals { hits: number; cpuUs: number; ms: number }

/** What is switched: the metrics and live numbers, the access log, both, or nothing (a control: the method's own noise). */
export type TogglePart = 'metrics' | 'log' | 'both' | 'none'

export function startObserveToggle(ctx: ProxyContext, periodMs: number, parts: TogglePart = 'both'): () => void {
  const { observer } = ctx
  const accessLog = observer.accessLog
  const totals: Record<'on' | 'off', PhaseTotals> = { on: { hits: 0, cpuUs: 0, ms: 0 }, off: { hits: 0, cpuUs: 0, ms: 0 } }
  let phases: Array<PhaseTotals & { phase: 'on' | 'off' }> = []
  let phase: 'on' | 'off' = 'on'
  let cpuAt = process.cpuUsage()
  let hitsAt = ctx.counters.hits
  let startedAt = performance.now()
  const close = () => {
    const cpu = process.cpuUsage(cpuAt)
    const now = performance.now()
    const one = { phase, hits: ctx.counters.hits - hitsAt, cpuUs: cpu.user + cpu.system, ms: now - startedAt }
    phases.push(one)
    totals[phase].cpuUs += one.cpuUs
    totals[phase].hits += one.hits
    totals[phase].ms += one.ms
    cpuAt = process.cpuUsage()
    hitsAt = ctx.counters.hits
    startedAt = now
  }
  const timer = setInterval(() => {
    close()
    phase = phase === 'on' ? 'off' : 'on'
    if (parts === 'metrics' || parts === 'both') observer.isCounting = phase === 'on'
    if (parts === 'log' || parts === 'both') observer.accessLog = phase === 'on' ? accessLog : undefined
  }, periodMs)
  timer.unref()
  const report = () => {
    close()
    process.stderr.write(`${JSON.stringify({ observeToggle: { ...totals, phases } })}\n`)
    for (const sums of Object.values(totals)) { sums.hits = 0; sums.cpuUs = 0; sums.ms = 0 }
    phases = []
  }
  process.on('SIGUSR2', report)
  return () => {
    clearInterval(timer)
    process.off('SIGUSR2', report)
    observer.isCounting = true
    observer.accessLog = accessLog
  }
}
