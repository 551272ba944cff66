#!/usr/bin/env node
/**
 * @module cli/main
 * The `lacquer` command: argument parsing, config file loading, signals and exit codes.
 * Holds no logic: it calls the library.
 */
import cluster from 'node:cluster'
import http from 'node:http'
import { availableParallelism } from 'node:os'
import { Command, InvalidArgumentError } from 'commander'
import { createProxy, type Proxy } from '../index.js'
import { LacquerError } from '../errors.js'
import { DEFAULTS, resolveConfig } from '../config/resolve.js'
import { findConfigFile, loadConfig } from '../config/load.js'
import { DIRECTOR_TYPES, type LacquerConfig, MAX_WORKERS } from '../config/schema.js'
import type { DirectorType } from '../config/resolve-origins.js'
import { createLogger, type LogLevel } from '../observe/logger.js'
import { startDemo } from '../demo/demo.js'
import type { LiveSnapshot } from '../observe/live.js'
import { renderStat } from './stat-view.js'
import { type RunningServer, startPrimary } from '../cluster/primary.js'
import { runWorker } from '../cluster/worker.js'

const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug']

function logLevel(value: string): LogLevel {
  if (!LOG_LEVELS.includes(value as LogLevel)) throw new InvalidArgumentError(`use one of ${LOG_LEVELS.join(', ')}`)
  return value as LogLevel
}

function workerCount(value: string): number | 'auto' {
  if (value === 'auto') return value
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_WORKERS) {
    throw new InvalidArgumentError(`give a whole number of processes from 1 (one process, no cluster; the default) to ${MAX_WORKERS}, or auto (one per core, ${availableParallelism()} here)`)
  }
  return n
}

function fail(err: unknown): never {
  const message = err instanceof LacquerError ? `lacquer: ${err.code}: ${err.message}` : `lacquer: ${(err as Error)?.message ?? err}`
  process.stderr.write(`${message}\n`)
  process.exit(err instanceof LacquerError && err.code === 'ERR_CONFIG_INVALID' ? 2 : 1)
}

function stopOnSignals(close: () => Promise<void>): void {
  let isClosing = false
  const stop = () => {
    if (isClosing) process.exit(1)
    isClosing = true
    close().then(() => process.exit(0), () => process.exit(1))
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

interface ServeFlags {
  config?: string
  /** one or several (--origin given more than once) */
  origin?: string[]
  director?: string
  listen?: string
  admin?: string | false
  storeSize?: string
  maxObjectSize?: string
  logLevel?: LogLevel
  accessLog?: string
  accessLogFormat?: string
  workers?: number | 'auto'
}

/** The config file (given or found in the working directory) with the command-line flags over it. */
async function readConfig(flags: ServeFlags): Promise<{ config: LacquerConfig; path?: string }> {
  const path = flags.config ?? findConfigFile()
  const file: LacquerConfig = path ? await loadConfig(path) : ({} as LacquerConfig)
  const config: LacquerConfig = { ...file }
  // --origin replaces the file's origin or origins: once → origin, several times → origins
  if (flags.origin?.length === 1) { config.origin = flags.origin[0]; delete config.origins }
  else if (flags.origin?.length) { config.origins = flags.origin; delete config.origin }
  if (flags.director !== undefined) config.director = { type: flags.director as DirectorType }
  if (flags.listen !== undefined) config.listen = flags.listen
  if (flags.admin !== undefined) config.admin = flags.admin
  if (flags.storeSize !== undefined || flags.maxObjectSize !== undefined) {
    config.store = { ...file.store, ...(flags.storeSize !== undefined && { size: flags.storeSize }), ...(flags.maxObjectSize !== undefined && { maxObjectSize: flags.maxObjectSize }) }
  }
  if (flags.logLevel !== undefined) config.logLevel = flags.logLevel
  if (flags.workers !== undefined) config.workers = flags.workers
  if (flags.accessLogFormat !== undefined && flags.accessLog === undefined && !file.accessLog) {
    throw new LacquerError('ERR_CONFIG_INVALID', 'accessLog: --access-log-format needs --access-log FILE (or - for stdout), or accessLog in the config file')
  }
  if (flags.accessLog !== undefined || flags.accessLogFormat !== undefined) {
    const fromFile = file.accessLog || {}
    config.accessLog = {
      ...fromFile,
      ...(flags.accessLog !== undefined && { output: flags.accessLog }),
      ...(flags.accessLogFormat !== undefined && { format: flags.accessLogFormat as 'combined' | 'json' }),
    }
  }
  if (config.origin === undefined && config.origins === undefined) {
    throw new LacquerError('ERR_CONFIG_INVALID', `origin: missing — give --origin http://HOST:PORT${path ? ` or set origin in ${path}` : ' or create lacquer.config.yaml with an origin'}`)
  }
  return { config, path }
}

const program = new Command()
program.name('lacquer').description('A full-page HTTP accelerator: a caching reverse proxy correct to RFC 9111').version('0.1.0')
// a bad flag is a configuration error: exit status 2, as for a bad config file
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))

program
  .command('serve')
  .description('start the caching reverse proxy in front of an origin')
  .option('--config <file>', 'config file (.ts, .mjs, .js, .json, .yaml); default: lacquer.config.* in the working directory')
  .option('--origin <url>', 'the app: http://HOST:PORT or unix:/path.sock; give it several times for several origins', (value: string, previous?: string[]) => [...(previous ?? []), value])
  .option('--director <type>', `how a fetch chooses among several origins: ${DIRECTOR_TYPES.join(', ')} (default round-robin)`)
  .option('--listen <host:port>', `where clients connect (default ${DEFAULTS.listen})`)
  .option('--admin <host:port>', `admin port (/healthz, /stats, /reload); keep it on loopback (default ${DEFAULTS.admin})`)
  .option('--no-admin', 'no admin port')
  .option('--store-size <size>', `memory store size (default ${DEFAULTS.storeSize})`)
  .option('--max-object-size <size>', `larger bodies stream through unstored (default ${DEFAULTS.maxObjectSize})`)
  .option('--log-level <level>', 'error, warn, info or debug (default info)', logLevel)
  .option('--access-log <file>', 'one line per request to FILE (appended), or - for stdout')
  .option('--access-log-format <format>', 'combined (NCSA, like varnishncsa; default) or json')
  .option('--workers <n>', `processes serving the listen port, each with its own memory store (default 1: one process, no cluster; auto: one per core, ${availableParallelism()} here)`, workerCount)
  .action(async (flags: Omit<ServeFlags, 'admin'> & { admin?: string | boolean }) => {
    try {
      if (flags.admin === true) delete flags.admin // commander's default for --no-admin when not given
      const readNext = async () => (await readConfig(flags as ServeFlags)).config
      // a worker of --workers N: started by the primary below, with the same arguments
      if (cluster.isWorker) return await runWorker({ readConfig: readNext })
      const { config, path } = await readConfig(flags as ServeFlags)
      const logger = createLogger(config.logLevel ?? 'info')
      const { workers } = resolveConfig(config)
      const server = workers === 1 ? await serveInThisProcess(config, path ? readNext : undefined, logger)
        : await startPrimary({ workers, config, readConfig: path ? readNext : undefined, logger })
      // with the access log on stdout, the banner goes to stderr so the log stream stays clean
      const banner = server.config.accessLog && ['-', 'stdout'].includes(server.config.accessLog.output) ? process.stderr : process.stdout
      banner.write(`lacquer: serving ${server.url} → ${server.config.origins.map((o) => o.url).join(', ')}${server.adminUrl ? ` (admin ${server.adminUrl})` : ''}${path ? ` with ${path}` : ''}${workers > 1 ? `, ${workers} workers` : ''}\n`)
      // SIGHUP reloads the config and reopens the access log (the reload does both; a refused
      // config or no config file still reopens the log)
      process.on('SIGHUP', () => {
        if (!path) {
          server.reopenLogs()
          logger('warn', 'SIGHUP: started without a config file, nothing to reload (the access log was reopened)')
          return
        }
        server.reload().then(
          (warnings) => logger('info', 'SIGHUP: config reloaded', { path, warnings }),
          (err: Error) => {
            server.reopenLogs()
            logger('error', 'SIGHUP: the new config was refused; the running one stays', { path, error: err.message })
          },
        )
      })
      stopOnSignals(() => server.close())
    } catch (err) {
      fail(err)
    }
  })

/** `--workers 1`: the proxy in this process, no cluster (what serve always was). */
async function serveInThisProcess(config: LacquerConfig, readNext: (() => Promise<LacquerConfig>) | undefined, logger: ReturnType<typeof createLogger>): Promise<RunningServer> {
  const reload = readNext && (async () => proxy.reload(await readNext()))
  const proxy: Proxy = createProxy(config, undefined, { logger, onReloadRequest: reload })
  const { url, adminUrl } = await proxy.listen()
  return { url, adminUrl, get config() { return proxy.config }, reload: reload ?? (async () => []), reopenLogs: () => proxy.reopenLogs(), close: () => proxy.close() }
}

program
  .command('check-config')
  .description('validate a config file without starting (exit 0 when valid, 2 when not)')
  .option('--config <file>', 'config file; default: lacquer.config.* in the working directory')
  .action(async (flags: { config?: string }) => {
    try {
      const path = flags.config ?? findConfigFile()
      if (!path) throw new LacquerError('ERR_CONFIG_INVALID', 'no config file: pass --config PATH or create lacquer.config.yaml in the working directory')
      let resolved
      try {
        resolved = resolveConfig(await loadConfig(path))
      } catch (err) {
        if (err instanceof LacquerError && !err.message.includes(path)) throw new LacquerError(err.code, `${path}:${err.message.replace(/^[^:]*: /, ' ')}`)
        throw err
      }
      process.stdout.write(`${path}: valid (origin${resolved.origins.length > 1 ? 's' : ''} ${resolved.origins.map((o) => o.url).join(', ')}, ${resolved.rules.length} rule${resolved.rules.length === 1 ? '' : 's'})\n`)
    } catch (err) {
      fail(err)
    }
  })

/** One call to a running Lacquer's admin port; exits 1 with a clear message when it cannot be reached. */
async function adminRequest(adminFlag: string, method: string, path: string, options: { body?: unknown; token?: string } = {}) {
  const admin = adminAddress(adminFlag)
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
  const headers: Record<string, string> = {}
  if (payload !== undefined) headers['content-type'] = 'application/json'
  if (options.token) headers.authorization = `Bearer ${options.token}`
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(`http://${admin}${path}`, { method, headers }, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => {
        // the proxy port answers through the app, with Cache-Status: not the admin port
        if (res.headers['cache-status'] !== undefined || !/json|event-stream/.test(res.headers['content-type'] ?? '')) {
          fail(new Error(`${admin} is not a Lacquer admin port (it answered ${res.statusCode} ${res.headers['content-type'] ?? 'without a content type'}${res.headers['cache-status'] !== undefined ? ', through the proxy' : ''}); pass the --admin address that serve printed`))
        }
        resolve({ status: res.statusCode ?? 0, body })
      })
    })
    req.on('error', reject)
    req.end(payload)
  }).catch((err: Error) => fail(new Error(`cannot reach the admin port at ${admin} (${err.message}); pass --admin HOST:PORT`)))
}

const TOKEN_ENV = 'LACQUER_TOKEN'

/** `--admin` as HOST:PORT; `http://HOST:PORT` (as serve prints it) is accepted too; a port is required. */
function adminAddress(flag: string): string {
  const address = flag.replace(/^http:\/\//i, '').replace(/\/+$/, '')
  if (!/^(?:\[[0-9a-fA-F:.]+\]|[^:/\s]+):\d{1,5}$/.test(address)) {
    process.stderr.write(`lacquer: --admin ${JSON.stringify(flag)} is not HOST:PORT (e.g. 127.0.0.1:8081, as serve printed it)\n`)
    process.exit(2)
  }
  return address
}

program
  .command('reload')
  .description('ask a running Lacquer to re-read its config file (through its admin port)')
  .option('--admin <host:port>', 'the admin address of the running Lacquer', DEFAULTS.admin)
  .option('--token <token>', `bearer token, when trust.token is set (default: $${TOKEN_ENV})`)
  .action(async (flags: { admin: string; token?: string }) => {
    const result = await adminRequest(flags.admin, 'POST', '/reload', { token: flags.token ?? process.env[TOKEN_ENV] })
    process.stdout.write(result.body)
    process.exit(result.status === 200 ? 0 : 1)
  })

const collect = (value: string, previous: string[] = []) => [...previous, value]

program
  .command('purge')
  .description('invalidate cached responses of a running Lacquer (through its admin port) and print the receipt')
  .argument('[urls...]', 'absolute URLs to purge (every stored variant of each)')
  .option('--tag <tag>', 'purge every entry carrying this tag (repeatable)', collect)
  .option('--prefix <path>', 'ban every URL whose path starts with this (repeatable)', collect)
  .option('--regex <pattern>', 'ban every URL whose path and query match this regular expression (repeatable)', collect)
  .option('--host <host>', 'limit --prefix/--regex to one site; alone, ban the whole site')
  .option('--soft', 'mark stale (served within grace while refreshed) instead of removing')
  .option('--no-wait', 'answer at once, without waiting for bans to be swept')
  .option('--json', 'print the receipt as JSON')
  .option('--admin <host:port>', 'the admin address of the running Lacquer', DEFAULTS.admin)
  .option('--token <token>', `bearer token, when trust.token is set (default: $${TOKEN_ENV})`)
  .action(async (urls: string[], flags: {
    tag?: string[]; prefix?: string[]; regex?: string[]; host?: string; soft?: boolean; wait: boolean; json?: boolean; admin: string; token?: string
  }) => {
    const hasBans = Boolean(flags.prefix?.length || flags.regex?.length)
    const body = {
      ...(urls.length && { urls }),
      ...(flags.tag && { tags: flags.tag }),
      ...(flags.prefix && { prefixes: flags.prefix }),
      ...(flags.regex && { patterns: flags.regex }),
      ...(flags.host !== undefined && (hasBans ? { host: flags.host } : { hosts: [flags.host] })),
      ...(flags.soft && { soft: true }),
      wait: flags.wait,
    }
    if (flags.host !== undefined && !hasBans && (urls.length || flags.tag)) {
      process.stderr.write('lacquer purge: --host limits --prefix and --regex to one site (alone, it bans the whole site); it cannot limit URLs or tags. Drop --host, or use --prefix / --regex\n')
      process.exit(2)
    }
    if (!urls.length && !flags.tag && !hasBans && flags.host === undefined) {
      process.stderr.write('lacquer purge: say what to purge: a URL, --tag, --prefix, --regex or --host\n')
      process.exit(2)
    }
    const result = await adminRequest(flags.admin, 'POST', '/purge', { body, token: flags.token ?? process.env[TOKEN_ENV] })
    let receipt: { ok?: boolean; errors?: string[]; mode?: string; invalidated?: { urls: number; tags: number; bans: number }; bans?: unknown[]; isComplete?: boolean }
    try { receipt = JSON.parse(result.body) } catch { receipt = { ok: false, errors: [result.body.trim() || `HTTP ${result.status}`] } }
    if (flags.json || result.status !== 200) {
      if (result.status !== 200) process.stderr.write(`lacquer purge: refused (HTTP ${result.status}): ${(receipt.errors ?? []).join('; ')}\n`)
      if (flags.json) process.stdout.write(`${JSON.stringify(receipt, null, 2)}\n`)
      process.exit(result.status === 200 ? 0 : 1)
    }
    const n = receipt.invalidated!
    const total = n.urls + n.tags + n.bans
    const bans = receipt.bans?.length ? `; ${receipt.bans.length} ban${receipt.bans.length > 1 ? 's' : ''}${receipt.isComplete ? ' swept' : ' queued (applied on lookup and by the sweeper)'}` : ''
    process.stdout.write(`${receipt.mode} purge: ${total} entr${total === 1 ? 'y' : 'ies'} invalidated (urls ${n.urls}, tags ${n.tags}, bans ${n.bans})${bans}\n`)
    process.exit(0)
  })

program
  .command('stat')
  .description('the live numbers of a running Lacquer in the terminal (like varnishstat), through its admin port')
  .option('--admin <host:port>', 'the admin address of the running Lacquer', DEFAULTS.admin)
  .option('--token <token>', `bearer token, when trust.token is set (default: $${TOKEN_ENV})`)
  .option('--once', 'print one snapshot and exit')
  .option('--json', 'with --once: the snapshot as JSON (for scripts)')
  .action(async (flags: { admin: string; token?: string; once?: boolean; json?: boolean }) => {
    const token = flags.token ?? process.env[TOKEN_ENV]
    if (flags.once) {
      const result = await adminRequest(flags.admin, 'GET', '/snapshot', { token })
      if (result.status !== 200) fail(new Error(`the admin port answered ${result.status}: ${result.body.trim()}`))
      const snapshot = JSON.parse(result.body) as LiveSnapshot & { history: unknown }
      if (flags.json) process.stdout.write(`${JSON.stringify(snapshot, null, 2)}\n`)
      else process.stdout.write(`${renderStat(snapshot, flags.admin, false)}\n`)
      process.exit(0)
    }
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
    const req = http.get(`http://${adminAddress(flags.admin)}/events`, { headers }, (res) => {
      if (res.statusCode !== 200) fail(new Error(`the admin port answered ${res.statusCode}; is --admin right, and are you in trust.allow?`))
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (text: string) => {
        buffer += text
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const event = /^event: (.*)$/m.exec(frame)?.[1]
          const data = /^data: (.*)$/m.exec(frame)?.[1]
          if (event === 'tick' && data) {
            const screen = renderStat(JSON.parse(data) as LiveSnapshot, flags.admin, true)
            process.stdout.write(process.stdout.isTTY ? `\x1b[H\x1b[2J${screen}\n` : `${screen}\n\n`)
          }
        }
      })
      res.on('end', () => fail(new Error('the admin port closed the stream (Lacquer stopped?)')))
    })
    req.on('error', (err) => fail(new Error(`cannot reach the admin port at ${flags.admin} (${err.message}); pass --admin HOST:PORT`)))
    process.on('SIGINT', () => process.exit(0))
  })

program
  .command('demo')
  .description('start a small sample site with Lacquer in front of it, and print the URLs')
  .option('--listen <host:port>', 'where the proxy listens', DEFAULTS.listen)
  .option('--admin <host:port>', 'admin port', DEFAULTS.admin)
  .option('--origin-listen <host:port>', 'where the sample site listens', '127.0.0.1:3000')
  .option('--log-level <level>', 'error, warn, info or debug', logLevel, 'warn')
  .action(async (opts: { listen: string; admin: string; originListen: string; logLevel: LogLevel }) => {
    try {
      const demo = await startDemo({ listen: opts.listen, admin: opts.admin, originListen: opts.originListen, logger: createLogger(opts.logLevel) })
      process.stdout.write(demo.banner)
      stopOnSignals(() => demo.close())
    } catch (err) {
      fail(err)
    }
  })

program.parseAsync(process.argv).catch(fail)
