/**
 * @module cli/stat-view
 * `lacquer stat`: the live numbers in the terminal, like varnishstat — one screen redrawn each
 * second from the admin port's event stream. Pure formatting: the numbers come from /events.
 */
import type { LiveSnapshot } from '../observe/live.js'
import { REQUEST_STATES } from '../observe/metrics.js'

const pad = (text: string, width: number) => text.length >= width ? text.slice(0, width) : text + ' '.repeat(width - text.length)
const num = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1)).padStart(9)
const bytes = (n: number) => n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`

/** One screen of text for a snapshot (totals: since the proxy started). */
export function renderStat(snap: LiveSnapshot, admin: string, isLive: boolean): string {
  const p = snap.point
  const lines: string[] = []
  lines.push(`lacquer stat — ${admin} — ${new Date(p.t * 1000).toISOString().slice(11, 19)} UTC${isLive ? '   (Ctrl-C to quit)' : ''}`)
  lines.push('')
  lines.push(`${pad('', 14)}${'per sec'.padStart(9)}${'total'.padStart(11)}`)
  for (const state of REQUEST_STATES) lines.push(`${pad(state, 14)}${num(p.requests[state])}${String(snap.totals[state]).padStart(11)}`)
  lines.push(`${pad('all', 14)}${num(p.total)}${String(REQUEST_STATES.reduce((n, s) => n + snap.totals[s], 0)).padStart(11)}`)
  lines.push('')
  lines.push(`hit ratio     ${p.hitRatio === null ? '        –' : `${(p.hitRatio * 100).toFixed(1).padStart(7)} %`}`)
  lines.push(`latency ms    p50 ${p.p50.toFixed(1)}   p95 ${p.p95.toFixed(1)}   p99 ${p.p99.toFixed(1)}`)
  lines.push(`origin        ${p.originRequests} req/s   ${p.originErrors} errors/s`)
  lines.push(`store         ${snap.store.objects} objects   ${bytes(snap.store.bytes)} of ${bytes(snap.store.maxBytes)}   ${snap.store.evictions} evictions`)
  lines.push(`bans pending  ${snap.bansPending}`)
  if (snap.origins.length) lines.push(`origins       ${snap.origins.map((o) => `${o.name} ${o.healthy ? 'healthy' : 'SICK'}`).join('   ')}`)
  lines.push('')
  lines.push('most missed (last minute)')
  for (const row of snap.topMissed.slice(0, 5)) lines.push(`  ${String(row.misses).padStart(7)}  ${row.url}`)
  lines.push('slowest (last minute)')
  for (const row of snap.slowest.slice(0, 5)) lines.push(`  ${row.ms.toFixed(1).padStart(7)} ms  ${pad(row.state, 10)} ${row.url}`)
  return lines.join('\n')
}
