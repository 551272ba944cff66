/**
 * @module cluster/worker
 * One worker of `lacquer serve --workers N`: a whole Lacquer (state machines, its own memory
 * store, its own origin pools) serving the shared listen port, without an admin port. It reads
 * the config file itself (a TypeScript config's hooks cannot cross a process boundary), asks the
 * primary for what all workers share (the per-user secret), and answers the primary's calls:
 * apply a purge here, report stats, live numbers, metrics, bans and ESI pages, reload, reopen
 * logs. Purges it receives on the proxy port go to the primary, which sends them to every
 * worker. SIGTERM (from the primary) drains and exits; the terminal's SIGINT and SIGHUP are the
 * primary's to handle.
 */
import cluster from 'node:cluster'
import { Writable } from 'node:stream'
import { type Proxy, createProxy } from '../index.js'
import type { LacquerConfig } from '../config/schema.js'
import { LacquerError } from '../errors.js'
import type { InvalidationCommand } from '../invalidate/invalidator.js'
import { type LogLevel, type Logger, createLogger } from '../observe/logger.js'
import { ClusterInvalidationBus } from './cluster-bus.js'
import { Channel } from './ipc.js'
import { type WorkerSettings, workerConfig } from './worker-config.js'

/** A worker's access log line batch for the primary to write (stdout and stderr have one writer: the primary). */
export interface LogMessage {
  lacquer: 'log'
  stream: 'stdout' | 'stderr'
  text: string
}

/** What a worker tells the primary when it cannot start. */
export interface StartFailure {
  code?: string
  message: string
}

export interface ApplyArgs {
  command: InvalidationCommand
  waitForBans: boolean
  /** count it as one purge request in this worker's counters (exactly one worker does) */
  isCounted: boolean
}

export async function runWorker(options: { readConfig: () => Promise<LacquerConfig> }): Promise<void> {
  const id = cluster.worker!.id
  let proxy: Proxy | undefined
  let resolveProxy!: (proxy: Proxy) => void
  const started = new Promise<Proxy>((resolve) => { resolveProxy = resolve })
  let settings: WorkerSettings | undefined
  const readConfig = async () => workerConfig(await options.readConfig(), settings!)
  const primary = new Channel((message) => { if (process.connected) process.send!(message) }, {
    apply: async ({ command, waitForBans, isCounted }: ApplyArgs) => (await started).adminSource.applyHere(command, waitForBans, isCounted),
    stats: async () => (await started).adminSource.stats(),
    live: async () => (await started).adminSource.livePart(),
    metrics: async () => (await started).adminSource.metricsJson(),
    bans: async () => (await started).adminSource.bans(),
    esi: async () => (await started).adminSource.esiPages(),
    reload: async () => { const running = await started; return running.reload(await readConfig()) },
    reopenLogs: async () => (await started).reopenLogs(),
  })
  process.on('message', (message) => primary.receive(message))
  process.on('SIGINT', () => {})
  process.on('SIGHUP', () => {})
  let isClosing = false
  const stop = () => {
    if (isClosing) return
    isClosing = true
    // the channel stays open while draining: a purge still reaches this worker's store
    const closed = proxy ? proxy.close() : Promise.resolve()
    closed.then(() => process.exit(0), () => process.exit(1))
  }
  process.on('SIGTERM', stop)
  // the primary is gone (killed): nobody will hand this worker connections or purges
  process.on('disconnect', stop)

  settings = await primary.call<WorkerSettings>('hello')
  try {
    const config = await readConfig()
    proxy = createProxy(config, undefined, {
      logger: workerLogger(id, config.logLevel ?? 'info'),
      bus: new ClusterInvalidationBus(primary),
      accessLogOutput: config.accessLog ? primaryStream(config.accessLog.output) : undefined,
    })
    const { url } = await proxy.listen()
    resolveProxy(proxy)
    await primary.call('ready', { url })
  } catch (err) {
    const failure: StartFailure = err instanceof LacquerError ? { code: err.code, message: err.message } : { message: (err as Error)?.message ?? String(err) }
    await primary.call('failed', failure).catch(() => {})
    process.exit(err instanceof LacquerError && err.code === 'ERR_CONFIG_INVALID' ? 2 : 1)
  }
}

/** Log lines say which worker wrote them. */
function workerLogger(id: number, level: LogLevel): Logger {
  const log = createLogger(level)
  return (lineLevel, msg, fields) => log(lineLevel, msg, { worker: id, ...fields })
}

/**
 * The access log's stream when it is stdout or stderr: batches go to the primary, the one writer
 * of the stream, so that two workers' lines never interleave in a pipe. Sent batches wait in the
 * stream until the channel takes them, so a slow primary slows the log (which then drops lines,
 * counted), never the requests. A file is opened by each worker itself (appending: every batch
 * is one write, which the kernel keeps whole).
 */
function primaryStream(output: string | undefined): Writable | undefined {
  const stream = output === undefined || output === '-' || output === 'stdout' ? 'stdout' : output === 'stderr' ? 'stderr' : undefined
  if (!stream) return undefined
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (!process.connected) return done()
      const message: LogMessage = { lacquer: 'log', stream, text: chunk.toString('utf8') }
      process.send!(message, undefined, undefined, () => done())
    },
  })
}
