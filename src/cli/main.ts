#!/usr/bin/env node
/**
 * @module cli/main
 * The `lacquer` command: argument parsing, signals and exit codes. Holds no logic: it calls
 * the library.
 */
import { Command, InvalidArgumentError } from 'commander'
import { createProxy } from '../index.js'
import { LacquerError } from '../errors.js'
import { DEFAULTS } from '../config/resolve.js'
import { createLogger, type LogLevel } from '../observe/logger.js'
import { startDemo } from '../demo/demo.js'

const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug']

function logLevel(value: string): LogLevel {
  if (!LOG_LEVELS.includes(value as LogLevel)) throw new InvalidArgumentError(`use one of ${LOG_LEVELS.join(', ')}`)
  return value as LogLevel
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

const program = new Command()
program.name('lacquer').description('A full-page HTTP accelerator: a caching reverse proxy correct to RFC 9111').version('0.1.0')

program
  .command('serve')
  .description('start the caching reverse proxy in front of an origin')
  .requiredOption('--origin <url>', 'the app: http://HOST:PORT or unix:/path.sock')
  .option('--listen <host:port>', 'where clients connect', DEFAULTS.listen)
  .option('--admin <host:port>', 'admin port (/healthz, /stats); keep it on loopback', DEFAULTS.admin)
  .option('--no-admin', 'no admin port')
  .option('--store-size <size>', 'memory store size', DEFAULTS.storeSize)
  .option('--max-object-size <size>', 'larger bodies stream through unstored', DEFAULTS.maxObjectSize)
  .option('--log-level <level>', 'error, warn, info or debug', logLevel, 'info')
  .action(async (opts: { origin: string; listen: string; admin: string | false; storeSize: string; maxObjectSize: string; logLevel: LogLevel }) => {
    try {
      const proxy = createProxy({
        origin: opts.origin, listen: opts.listen, admin: opts.admin, storeSize: opts.storeSize, maxObjectSize: opts.maxObjectSize,
      }, undefined, { logger: createLogger(opts.logLevel) })
      const { url, adminUrl } = await proxy.listen()
      process.stdout.write(`lacquer: serving ${url} → ${proxy.config.origin.url}${adminUrl ? ` (admin ${adminUrl})` : ''}\n`)
      stopOnSignals(() => proxy.close())
    } catch (err) {
      fail(err)
    }
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
