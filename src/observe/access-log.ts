/**
 * @module observe/access-log
 * One line per client request, like varnishncsa: NCSA combined (with the cache state and the
 * duration appended) or JSON lines. Off the hot path: lines are queued and written in one
 * batch per event-loop turn; when the output cannot keep up (a full pipe, a slow disk) lines
 * are dropped and counted, never allowed to slow down or buffer without bound.
 */
import { createWriteStream } from 'node:fs'
import type { Writable } from 'node:stream'

export type AccessLogFormat = 'combined' | 'json'

export interface AccessRecord {
  remote: string
  time: number
  method: string
  /** path and query as received */
  url: string
  host: string
  status: number
  bytes: number
  referer?: string
  userAgent?: string
  /** final state: hit, stale, miss, coalesced, pass, synth, purge */
  state: string
  /** from arrival to the end of the response */
  durationMs: number
  /** time to the origin's response head, when an origin fetch was made for this request */
  originMs?: number
  /** the transaction id (also in Lacquer-Trace and in debug logs) */
  id: number
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** `[10/Oct/2000:13:55:36 +0000]`, in UTC. */
function clfTime(ms: number): string {
  const d = new Date(ms)
  const p = (n: number) => String(n).padStart(2, '0')
  return `[${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000]`
}

/** A quoted field: `"` and `\` escaped, control bytes as \xNN, as nginx does. */
function quoted(value: string | undefined): string {
  if (value === undefined || value === '') return '"-"'
  // eslint-disable-next-line no-control-regex
  return `"${value.replace(/["\\]/g, '\\$&').replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`
}

export function formatCombined(r: AccessRecord): string {
  const bytes = r.bytes > 0 ? String(r.bytes) : '-'
  return `${r.remote || '-'} - - ${clfTime(r.time)} ${quoted(`${r.method} ${r.url} HTTP/1.1`)} ${r.status} ${bytes} ${quoted(r.referer)} ${quoted(r.userAgent)} ${r.state} ${(r.durationMs / 1000).toFixed(6)}`
}

export function formatJson(r: AccessRecord): string {
  return JSON.stringify({
    time: new Date(r.time).toISOString(), remote: r.remote, method: r.method, host: r.host, url: r.url, status: r.status, bytes: r.bytes,
    state: r.state, ms: Math.round(r.durationMs * 1000) / 1000, ...(r.originMs === undefined ? {} : { originMs: Math.round(r.originMs * 1000) / 1000 }),
    referer: r.referer, userAgent: r.userAgent, id: r.id,
  })
}

/** Bytes queued beyond which lines are dropped until the output drains. */
const MAX_QUEUED_BYTES = 4 << 20

export class AccessLog {
  private queue: string[] = []
  private queuedBytes = 0
  private isScheduled = false
  private isBlocked = false
  dropped = 0
  private readonly format: (r: AccessRecord) => string
  private readonly out: Writable
  private readonly ownsOut: boolean

  constructor(options: { format: AccessLogFormat; output: string | Writable }) {
    this.format = options.format === 'json' ? formatJson : formatCombined
    if (typeof options.output === 'string') {
      this.ownsOut = options.output !== '-' && options.output !== 'stdout' && options.output !== 'stderr'
      this.out = options.output === '-' || options.output === 'stdout' ? process.stdout
        : options.output === 'stderr' ? process.stderr : createWriteStream(options.output, { flags: 'a' })
    } else {
      this.ownsOut = false
      this.out = options.output
    }
    this.out.on('drain', () => { this.isBlocked = false })
  }

  write(record: AccessRecord): void {
    if (this.isBlocked || this.queuedBytes > MAX_QUEUED_BYTES) { this.dropped++; return }
    const line = this.format(record)
    this.queue.push(line)
    this.queuedBytes += line.length + 1
    if (!this.isScheduled) {
      this.isScheduled = true
      setImmediate(() => this.flush())
    }
  }

  flush(): void {
    this.isScheduled = false
    if (this.queue.length === 0) return
    const text = `${this.queue.join('\n')}\n`
    this.queue = []
    this.queuedBytes = 0
    if (!this.out.write(text)) this.isBlocked = true
  }

  async close(): Promise<void> {
    this.flush()
    if (this.ownsOut) await new Promise<void>((resolve) => this.out.end(resolve))
  }
}
