/**
 * @module observe/access-log
 * One line per client request, like varnishncsa: NCSA combined (with the cache state and the
 * duration appended) or JSON lines. Off the hot path: a request's line is written as bytes
 * into a batch (observe/access-log-batch.ts: no string made, none kept), and the batch is
 * written as one chunk when it holds 64 KiB of lines, or FLUSH_DELAY_MS after its first
 * request — a few dozen writes a second under load instead of one per event-loop turn. While the output
 * is slow (a pipe nobody reads, a slow disk) formatted batches wait in a bounded queue (4 MiB);
 * beyond it, or while the output is broken (a full disk), requests are dropped and counted
 * (`lacquer_access_log_dropped_total`), never allowed to slow requests down, buffer without
 * bound, or take the proxy down. A file is checked at start (a path that cannot be opened is a
 * config error) and reopened on `reopen()` (SIGHUP), so logrotate can move it away; `close()`
 * writes what is pending before it resolves.
 */
import { closeSync, createWriteStream, existsSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Writable } from 'node:stream'
import { LacquerError } from '../errors.js'
import { AccessLogBatch, type AccessLogFormat, CAPACITY } from './access-log-batch.js'

export type { AccessLogFormat } from './access-log-batch.js'

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

/** Bytes queued beyond which requests are dropped until the output drains. */
const MAX_QUEUED_BYTES = 4 << 20
/** A batch this large is written at once. */
const BATCH_BYTES = 64 << 10
/** The longest a request waits in a batch before its line is written. */
export const FLUSH_DELAY_MS = 20
/** How long `close()` waits for a pipe or terminal to take what was written (a reader that never comes back must not hold the exit). */
const CLOSE_WAIT_MS = 5000

export class AccessLog {
  private readonly batch: AccessLogBatch
  /** formatted batches the output has not taken yet (it is slow or broken) */
  private queue: Buffer[] = []
  private queuedBytes = 0
  private timer: NodeJS.Timeout | undefined = undefined
  /** the output said "slow down": batches wait in the queue until it drains */
  private isWaiting = false
  /** the output failed (e.g. a full disk): requests are dropped until a reopen */
  private isBroken = false
  dropped = 0
  private out!: Writable
  private readonly path?: string
  /** chunks handed to the output that it has not written yet */
  private unwritten = 0
  private onAllWritten: (() => void) | undefined = undefined
  private readonly onTimer = () => {
    this.timer = undefined
    this.flush()
  }
  private readonly onWritten = () => {
    if (--this.unwritten === 0) this.onAllWritten?.()
  }

  constructor(options: { format: AccessLogFormat; output: string | Writable }, private readonly onError: (message: string) => void = () => {}) {
    this.batch = new AccessLogBatch(options.format)
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
      const code = (err as NodeJS.ErrnoException).code
      const why = code === 'ENOENT' && !existsSync(dirname(path)) ? `ENOENT: its directory ${JSON.stringify(dirname(path))} does not exist; create it`
        : code === 'EISDIR' ? 'EISDIR: it is a directory; name a file in it'
          : code ?? (err as Error).message
      throw new LacquerError('ERR_CONFIG_INVALID', `accessLog.output: ${JSON.stringify(path)} cannot be opened for appending (${why}); give a writable file, or - for stdout`)
    }
    this.attach(createWriteStream(path, { flags: 'a' }))
  }

  private attach(out: Writable): void {
    this.out = out
    this.isWaiting = false
    this.isBroken = false
    out.on('drain', () => {
      if (this.out !== out) return
      this.isWaiting = false
      this.writeQueue()
    })
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (this.out !== out) return
      if (!this.isBroken) this.onError(`the access log cannot be written (${err.code ?? err.message}); lines are dropped until it is reopened (SIGHUP)`)
      this.isBroken = true
    })
  }

  /**
   * One finished request, its fields given one by one: the hot path's call, which writes the
   * line's bytes into the batch and keeps no reference to the strings.
   */
  request(remote: string, time: number, method: string, url: string, httpVersion: string | undefined, host: string, status: number, bytes: number,
    referer: string | undefined, userAgent: string | undefined, state: string, durationMs: number, originMs: number | undefined, id: number): void {
    const batch = this.batch
    if (this.isBroken || this.queuedBytes + batch.bytes > MAX_QUEUED_BYTES) { this.dropped++; return }
    batch.add(remote, time, method, url, httpVersion, host, status, bytes, referer, userAgent, state, durationMs, originMs, id)
    if (batch.bytes >= BATCH_BYTES || batch.length === CAPACITY) this.flush()
    else if (this.timer === undefined) this.timer = setTimeout(this.onTimer, FLUSH_DELAY_MS)
  }

  /** One finished request, as a record. */
  write(r: AccessRecord): void {
    this.request(r.remote, r.time, r.method, r.url, r.httpVersion, r.host, r.status, r.bytes, r.referer, r.userAgent, r.state, r.durationMs, r.originMs, r.id)
  }

  /** Writes the pending lines (or queues them while the output is slow or broken). */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    if (this.batch.length > 0) {
      const chunk = this.batch.take()
      this.queue.push(chunk)
      this.queuedBytes += chunk.length
    }
    this.writeQueue()
  }

  private writeQueue(): void {
    if (this.queue.length === 0 || this.isWaiting || this.isBroken) return
    const chunk = this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue, this.queuedBytes)
    this.queue = []
    this.queuedBytes = 0
    this.unwritten++
    if (!this.out.write(chunk, this.onWritten)) this.isWaiting = true
  }

  /**
   * Reopens the file (after logrotate moved it); a no-op for stdout and stderr. When the path
   * cannot be opened now (its directory moved away, no permission), the process goes on: the
   * error is reported and lines keep going to the file opened before (as nginx does on USR1),
   * until a later reopen succeeds.
   */
  reopen(): void {
    if (this.path === undefined) return
    this.flush()
    const old = this.out
    try {
      this.open()
    } catch (err) {
      const still = this.isBroken ? 'lines are dropped (the file opened before is broken too)' : 'lines still go to the file opened before'
      this.onError(`the access log cannot be reopened: ${(err as Error).message.replace(/^invalid configuration: /, '')}; ${still} until a reopen (SIGHUP) succeeds`)
      return
    }
    old.end()
    // what waited for the old file (slow, or broken) goes to the new one
    this.writeQueue()
  }

  /**
   * Writes everything pending and resolves when it is written: a file is then closed; a pipe
   * or terminal is given up to CLOSE_WAIT_MS to take it (the process exits next).
   */
  async close(): Promise<void> {
    this.isWaiting = false
    this.flush()
    if (this.path !== undefined) await new Promise<void>((resolve) => this.out.end(resolve))
    else if (this.unwritten > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CLOSE_WAIT_MS)
        this.onAllWritten = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }
}
