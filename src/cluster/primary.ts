/**
 * @module cluster/primary
 * The primary of `lacquer serve --workers N` (node:cluster). It serves no client request and
 * holds no store: it starts N workers on the shared listen port and hands them connections
 * round-robin (SCHED_RR: per connection, so keep-alive costs it nothing per request), serves
 * the admin port for all of them (cluster-admin-source.ts), sends every purge, reload and log
 * reopen to each, writes their stdout access log lines (one writer), restarts a worker that
 * dies (at once after a long life, with a doubling delay while it keeps dying young), and
 * drains them all on close.
 *
 *   fork ─▶ hello (the worker listens: it gets the shared settings) ─▶ ready ─▶ … ─▶ exit ─▶ fork again
 *                                                   └▶ failed (cannot start) ─▶ exit
 */
import { randomBytes } from 'node:crypto'
import cluster, { type Worker } from 'node:cluster'
import type http from 'node:http'
import { createAdminServer, warnIfBeyondLoopback } from '../admin/admin-server.js'
import type { LiveHub } from '../admin/live-hub.js'
import { type ResolvedConfig, resolveConfig } from '../config/resolve.js'
import type { LacquerConfig } from '../config/schema.js'
import { type ErrorCode, LacquerError } from '../errors.js'
import { DRAIN_TIMEOUT_MS, closeServer, listenOn } from '../index.js'
import { sumReceipts } from '../invalidate/bus.js'
import type { InvalidationCommand, InvalidationReceipt } from '../invalidate/invalidator.js'
import { TrustGuard } from '../invalidate/trust.js'
import type { Logger } from '../observe/logger.js'
import { ClusterAdminSource, type WorkerAnswer, type WorkerFleet } from './cluster-admin-source.js'
import { type PublishArgs, asLocalError } from './cluster-bus.js'
import { Channel, ChannelClosedError, RemoteError } from './ipc.js'
import type { ApplyArgs, LogMessage, StartFailure } from './worker.js'
import { type WorkerSettings, workerConfig } from './worker-config.js'

/** What `lacquer serve` runs, one process or a cluster alike. */
export interface RunningServer {
  url: string
  adminUrl: string | null
  readonly config: ResolvedConfig
  /** re-reads the config file and swaps it in everywhere; resolves with the warnings */
  reload(): Promise<string[]>
  reopenLogs(): void
  close(): Promise<void>
}

export interface PrimaryOptions {
  workers: number
  /** the config file and flags, as read at start */
  config: LacquerConfig
  /** reads them again (for a reload); absent when started without a config file */
  readConfig?: () => Promise<LacquerConfig>
  logger: Logger
}

/** How long the admin port waits for a worker's numbers before leaving it out. */
const READ_TIMEOUT_MS = 5000
/** A worker that lived this long is restarted at once; one that died younger, after a delay. */
const STABLE_MS = 10_000
const FIRST_RESTART_DELAY_MS = 500
const MAX_RESTART_DELAY_MS = 30_000
/** Access log bytes waiting for stdout (or stderr) beyond which the primary drops lines. */
const MAX_QUEUED_LOG_BYTES = 4 << 20

interface Slot {
  worker?: Worker
  channel?: Channel
  state: 'starting' | 'ready' | 'gone'
  startedAt: number
  /** deaths in a row, each before STABLE_MS */
  quickExits: number
  failure?: StartFailure
  restartTimer?: NodeJS.Timeout
  exited?: Promise<void>
}

/**
 * How long to wait before starting a worker again: at once after a long life; after 0.5 s, 1 s,
 * 2 s … (at most 30 s) while workers keep dying young (a crash at start, a config file broken
 * since the last reload), so that a broken worker cannot make the primary fork in a tight loop.
 */
export function restartDelay(livedMs: number, quickExitsBefore: number): { delayMs: number; quickExits: number } {
  if (livedMs >= STABLE_MS) return { delayMs: 0, quickExits: 0 }
  const quickExits = quickExitsBefore + 1
  return { delayMs: Math.min(MAX_RESTART_DELAY_MS, FIRST_RESTART_DELAY_MS * 2 ** (quickExits - 1)), quickExits }
}

export async function startPrimary(options: PrimaryOptions): Promise<RunningServer> {
  return new ClusterPrimary(options).start()
}

class ClusterPrimary implements WorkerFleet {
  restarts = 0
  accessLogDropped = 0
  private config: ResolvedConfig
  private readonly settings: WorkerSettings
  private readonly source: ClusterAdminSource
  private readonly slots: Slot[]
  private admin?: http.Server & { hub: LiveHub }
  private url = ''
  private hasStarted = false
  private isStopping = false
  private isDroppingLog = false
  private startup?: { resolve: () => void; reject: (err: Error) => void }

  constructor(private readonly options: PrimaryOptions) {
    this.settings = { workers: options.workers, perUserSecret: options.config.perUser?.secret ?? randomBytes(32).toString('hex') }
    this.config = resolveConfig(options.config)
    // what each worker will run must be valid too (its share of the store)
    resolveConfig(workerConfig(options.config, this.settings))
    this.source = new ClusterAdminSource(this, this.config, new TrustGuard(this.config.trust), options.logger, options.readConfig && (() => this.reload()))
    this.slots = Array.from({ length: options.workers }, () => ({ state: 'gone', startedAt: 0, quickExits: 0 }))
  }

  async start(): Promise<RunningServer> {
    const { config } = this
    let adminUrl: string | null = null
    if (config.admin) {
      this.admin = createAdminServer(this.source)
      adminUrl = await listenOn(this.admin, 'admin', config.admin.host, config.admin.port)
    }
    // round-robin unless the operator chose otherwise (NODE_CLUSTER_SCHED_POLICY=none): see docs/adr/0008-workers.md
    if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_RR
    const started = new Promise<void>((resolve, reject) => { this.startup = { resolve, reject } })
    for (const slot of this.slots) this.fork(slot)
    try {
      await started
    } catch (err) {
      await this.close()
      throw err
    }
    this.options.logger('info', 'lacquer cluster listening', {
      url: this.url, adminUrl, workers: this.slots.map((s) => s.worker!.process.pid), schedulingPolicy: cluster.schedulingPolicy === cluster.SCHED_RR ? 'rr' : 'none',
    })
    warnIfBeyondLoopback(config.admin, this.options.logger)
    const primary = this
    return {
      url: this.url, adminUrl,
      get config() { return primary.config },
      reload: () => (this.options.readConfig ? this.reload() : Promise.resolve([])),
      reopenLogs: () => this.reopenLogs(),
      close: () => this.close(),
    }
  }

  private fork(slot: Slot): void {
    const worker = cluster.fork()
    const channel = new Channel((message) => { if (worker.isConnected()) worker.send(message) }, {
      hello: () => { channel.open(); return this.settings },
      ready: ({ url }: { url: string }) => {
        slot.state = 'ready'
        this.url ||= url
        if (!this.hasStarted && this.slots.every((s) => s.state === 'ready')) {
          this.hasStarted = true
          this.startup?.resolve()
        }
      },
      failed: (failure: StartFailure) => { slot.failure = failure },
      // a PURGE on the proxy port: the worker that received it counted it
      publish: ({ command, waitForBans }: PublishArgs) => this.applyEverywhere(command, waitForBans, false),
    }, false)
    Object.assign(slot, { worker, channel, state: 'starting', startedAt: Date.now(), failure: undefined })
    worker.on('message', (message: LogMessage | unknown) => {
      if ((message as LogMessage)?.lacquer === 'log') this.writeLog(message as LogMessage)
      else channel.receive(message)
    })
    slot.exited = new Promise((resolve) => worker.once('exit', (code: number | null, signal: string | null) => {
      this.onExit(slot, worker, code, signal)
      resolve()
    }))
  }

  private onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    slot.channel?.close(`worker ${worker.id} exited`)
    slot.state = 'gone'
    if (this.isStopping) return
    if (!this.hasStarted) {
      const failure = slot.failure
      this.startup?.reject(failure?.code ? new LacquerError(failure.code as ErrorCode, failure.message)
        : new Error(failure?.message ?? `worker ${worker.id} exited while starting (${signal ?? `exit status ${code}`})`))
      return
    }
    const lived = Date.now() - slot.startedAt
    const { delayMs, quickExits } = restartDelay(lived, slot.quickExits)
    slot.quickExits = quickExits
    this.options.logger('error', 'worker exited; starting a new one', {
      worker: worker.id, pid: worker.process.pid, code, signal, livedMs: lived, restartInMs: delayMs, ...(slot.failure && { reason: slot.failure.message }),
    })
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined
      if (this.isStopping) return
      this.restarts++
      this.fork(slot)
    }, delayMs)
  }

  /** Slots whose worker runs (starting or ready): where a purge must go. */
  private running(): Slot[] {
    return this.slots.filter((s) => s.state !== 'gone')
  }

  async ask<T>(op: string): Promise<Array<WorkerAnswer<T>>> {
    const answers = await Promise.all(this.slots.filter((s) => s.state === 'ready').map(async (slot) => {
      const { worker, channel, startedAt } = slot
      try {
        return { id: worker!.id, pid: worker!.process.pid!, startedAt, value: await channel!.call<T>(op, undefined, READ_TIMEOUT_MS) }
      } catch (err) {
        if (!(err instanceof ChannelClosedError)) this.options.logger('warn', 'a worker did not answer; its numbers are left out', { worker: worker!.id, op, error: (err as Error).message })
        return undefined
      }
    }))
    return answers.filter((a) => a !== undefined)
  }

  apply(command: InvalidationCommand, waitForBans: boolean): Promise<InvalidationReceipt> {
    return this.applyEverywhere(command, waitForBans, true)
  }

  /**
   * Applies a command in every running worker, those still starting included (their calls wait
   * until they listen, so nothing they store can miss it). A worker that dies meanwhile took its
   * store with it: it is left out of the receipt. `isCounted`: one worker counts the purge request.
   */
  private async applyEverywhere(command: InvalidationCommand, waitForBans: boolean, isCounted: boolean): Promise<InvalidationReceipt> {
    const receipts = await Promise.all(this.running().map((slot, i) =>
      slot.channel!.call<InvalidationReceipt>('apply', { command, waitForBans, isCounted: isCounted && i === 0 } satisfies ApplyArgs).catch((err: Error) => {
        if (err instanceof ChannelClosedError) return undefined
        throw asLocalError(err)
      })))
    const applied = receipts.filter((r) => r !== undefined)
    return applied.length ? sumReceipts(applied) : { mode: command.mode, invalidated: { urls: 0, tags: 0, bans: 0 }, bans: [], isComplete: true }
  }

  /** Checks the file here first: a bad one is refused before any worker sees it. */
  private async reload(): Promise<string[]> {
    const next = await this.options.readConfig!()
    const resolved = resolveConfig(next)
    resolveConfig(workerConfig(next, this.settings))
    const answers = await Promise.all(this.running().map((slot) => slot.channel!.call<string[]>('reload').catch((err: Error) => {
      if (err instanceof ChannelClosedError) return []
      throw err instanceof RemoteError && err.code ? new LacquerError(err.code as ErrorCode, err.message) : err
    })))
    const warnings = new Set(answers.flat())
    if (JSON.stringify(resolved.admin) !== JSON.stringify(this.config.admin)) warnings.add('admin changed: it takes effect only after a restart')
    // the primary keeps its addresses; it needs the new rules (purge URLs are routed by them) and trust
    this.config = Object.freeze({ ...resolved, listen: this.config.listen, admin: this.config.admin, workers: this.config.workers })
    this.source.config = this.config
    this.source.trust = new TrustGuard(resolved.trust)
    this.options.logger('info', 'config reloaded in every worker', { workers: answers.length, warnings: [...warnings] })
    return [...warnings]
  }

  private reopenLogs(): void {
    for (const slot of this.running()) slot.channel!.call('reopenLogs').catch(() => {})
  }

  /** Workers' stdout/stderr access log lines: one writer, whole batches, bounded like the workers' own queues. */
  private writeLog(message: LogMessage): void {
    const stream = message.stream === 'stderr' ? process.stderr : process.stdout
    if (stream.writableLength > MAX_QUEUED_LOG_BYTES) {
      this.accessLogDropped += message.text.split('\n').length - 1
      if (!this.isDroppingLog) this.options.logger('warn', `access log lines dropped: ${message.stream} is not read fast enough`)
      this.isDroppingLog = true
      return
    }
    this.isDroppingLog = false
    stream.write(message.text)
  }

  /** Stops the admin port, then lets every worker drain (SIGTERM) and exit; SIGKILL for one still there after the drain time. */
  private async close(): Promise<void> {
    if (this.isStopping) return
    this.isStopping = true
    for (const slot of this.slots) clearTimeout(slot.restartTimer)
    if (this.admin) {
      this.admin.hub.close()
      if (this.admin.listening) await closeServer(this.admin, 0)
    }
    const running = this.running()
    for (const slot of running) slot.worker!.process.kill('SIGTERM')
    const killer = setTimeout(() => { for (const slot of running) slot.worker!.process.kill('SIGKILL') }, DRAIN_TIMEOUT_MS + 5000)
    await Promise.all(running.map((slot) => slot.exited))
    clearTimeout(killer)
  }
}
