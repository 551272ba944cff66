/**
 * @module observe/access-log
 * One line per client request, like varnishncsa: NCSA combined (with the cache state and the
 * duration appended) or JSON lines. Off the hot path: lines are queued and written in one
 * batch per event-loop turn. While the output is slow (a pipe nobody reads, a slow disk) lines
 * wait in a bounded queue (4 MiB); beyond it, or while the output is broken (a full disk),
 * lines are dropped and counted (`lacquer_access_log_dropped_total`), never allowed to slow
 * requests down, buffer without bound, or take the proxy down. A file is checked at start
 * (a path that cannot be opened is a config error) and reopened on `reopen()` (SIGHUP), so
 * logrotate can move it away.
 */
import { closeSync, createWriteStream, openSync } from 'node:fs'
import type { Writable } from 'node:stream'
import { LacquerError } from '../errors.js'

export type AccessLogFormat = 'combined' | 'json'

export interface AccessRecord {
  remote: string
  time: number
  method: string
  /** path and query as received (before tracking parameters are dropped) */
  url: string
  /** the request's HTTP version, e.g. 1.1 */
  httpVersion?: string
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

let clfSecond = -1
let clfText = ''

/** `[10/Oct/2000:13:55:36 +0000]`, in UTC; made once per second. */
function clfTime(ms: number): string {
  const second = Math.floor(ms / 1000)
  if (second === clfSecond) return clfText
  clfSecond = second
  clfText = formatClfTime(ms)
  return clfText
}

function formatClfTime(ms: number): string {
  const d = new Date(ms)
  const p = (n: number) => String(n).padStart(2, '0')
  return `[${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000]`
}

/**
 * A quoted field as nginx writes it: `"` and `\` escaped, control bytes and bytes above 0x7e
 * as \xNN. Header values arrive as latin1 (one char per byte), so each byte is escaped as it
 * came, never re-encoded.
 */
function quoted(value: string | undefined): string {
  if (value === undefined || value === '') return '"-"'
  // eslint-disable-next-line no-control-regex
  if (!/[\x00-\x1f"\\\x7f-\uffff]/.test(value)) return `"${value}"`
  // eslint-disable-next-line no-control-regex
  return `"${value.replace(/["\\]/g, '\\$&').replace(/[\x00-\x1f\x7f-\uffff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)}"`
}

/** Header bytes (latin1 chars) read as the UTF-8 they usually are, for JSON. */
function utf8(value: string | undefined): string | undefined {
  return value === undefined || !/[\x80-\xff]/.test(value) ? value : Buffer.from(value, 'latin1').toString('utf8')
}

export function formatCombined(r: AccessRecord): string {
  const bytes = r.bytes > 0 ? String(r.bytes) : '-'
  return `${r.remote || '-'} - - ${clfTime(r.time)} ${quoted(`${r.method} ${r.url} HTTP/${r.httpVersion ?? '1.1'}`)} ${r.status} ${bytes} ${quoted(r.referer)} ${quoted(r.userAgent)} ${r.state} ${(r.durationMs / 1000).toFixed(6)}`
}

export function formatJson(r: AccessRecord): string {
  return JSON.stringify({
    time: new Date(r.time).toISOString(), remote: r.remote, method: r.method, host: utf8(r.host), url: utf8(r.url), status: r.status, bytes: r.bytes,
    state: r.state, ms: Math.round(r.durationMs * 1000) / 1000, ...(r.originMs === undefined ? {} : { originMs: Math.round(r.originMs * 1000) / 1000 }),
    referer: utf8(r.referer), userAgent: utf8(r.userAgent), id: r.id,
  })
}

/** Bytes queued beyond which lines are dropped until the output drains. */
const MAX_QUEUED_BYTES = 4 << 20

export class AccessLog {
  private queue: string[] = []
  private queuedBytes = 0
  private isScheduled = false
  /** the output said "slow down": lines wait in the queue until it drains */
  private isWaiting = false
  /** the output failed (e.g. a full disk): lines are dropped until a reopen */
  private isBroken = false
  dropped = 0
  private readonly format: (r: AccessRecord) => string
  private out!: Writable
  private readonly path?: string

  constructor(options: { format: AccessLogFormat; output: string | Writable }, private readonly onError: (message: string) => void = () => {}) {
    this.format = options.format === 'json' ? formatJson : formatCombined
    const { output } = options
    if (typeof output !== 'string') this.attach(output)
    else if (output === '-' || output === 'stdout') this.attach(process.stdout)
    else if (output === 'stderr') this.attach(process.stderr)
    else {
      this.path = output
      this.open()
    }
  }

  /** Opens the file (appending), checked synchronously so a bad path fails at start, not later. */
  private open(): void {
    const path = this.path!
    try {
      closeSync(openSync(path, 'a'))
    } catch (err) {
      throw new LacquerError('ERR_CONFIG_INVALID', `accessLog.output: ${JSON.stringify(path)} cannot be opened for appending (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give a writable file, or - for stdout`)
    }
    this.attach(createWriteStream(path, { flags: 'a' }))
  }

  private attach(out: Writable): void {
    this.out = out
    this.isWaiting = false
    this.isBroken = false
    out.on('drain', () => {
      this.isWaiting = false
      this.flush()
    })
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (this.out !== out) return
      if (!this.isBroken) this.onError(`the access log cannot be written (${err.code ?? err.message}); lines are dropped until it is reopened (SIGHUP)`)
      this.isBroken = true
    })
  }

  write(record: AccessRecord): void {
    if (this.isBroken || this.queuedBytes > MAX_QUEUED_BYTES) { this.dropped++; return }
    const line = this.format(record)
    this.queue.push(line)
    this.queuedBytes += line.length + 1
    if (!this.isScheduled && !this.isWaiting) {
      this.isScheduled = true
      setImmediate(() => this.flush())
    }
  }

  flush(): void {
    this.isScheduled = false
    if (this.queue.length === 0 || this.isWaiting || this.isBroken) return
    const text = `${this.queue.join('\n')}\n`
    this.queue = []
    this.queuedBytes = 0
    if (!this.out.write(text)) this.isWaiting = true
  }

  /** Reopens the file (after logrotate moved it); a no-op for stdout and stderr. */
  reopen(): void {
    if (this.path === undefined) return
    this.flush()
    const old = this.out
    this.open()
    old.end()
  }

  async close(): Promise<void> {
    this.isWaiting = false
    this.flush()
    if (this.path !== undefined) await new Promise<void>((resolve) => this.out.end(resolve))
  }
}
