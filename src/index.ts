/**
 * @module lacquer
 * Public API: `createProxy(config, policy?)`, `defineConfig`, `loadConfig` and the public
 * types. Nothing else.
 */
import type http from 'node:http'
import type net from 'node:net'
import type { AddressInfo } from 'node:net'
import type { Writable } from 'node:stream'
import { createAdminServer, warnIfBeyondLoopback } from './admin/admin-server.js'
import { LocalAdminSource } from './admin/admin-source.js'
import { type ProxyOptions, type ResolvedConfig, resolveConfig } from './config/resolve.js'
import { type Counters, type ProxyContext, newCounters } from './context.js'
import { LacquerError } from './errors.js'
import { KEEP_FOR_ERRORS_MS } from './fetch/fetch-task.js'
import { HitForMiss } from './fetch/hit-for-miss.js'
import { createProxyServer } from './http/server.js'
import { type Logger, createLogger } from './observe/logger.js'
import { OriginSet } from './origin/origin-set.js'
import { composePolicy, createBuiltinPolicy } from './policy/builtin.js'
import type { CompiledPolicy, Policy } from './policy/types.js'
import { MemoryStore } from './store/memory-store.js'
import type { CacheStore } from './store/types.js'
import { type InvalidationBus, LocalInvalidationBus } from './invalidate/bus.js'
import { Invalidator } from './invalidate/invalidator.js'
import { AccessLog } from './observe/access-log.js'
import { Observer } from './observe/observer.js'
import { type TogglePart, startObserveToggle } from './observe/bench-toggle.js'
import { TrustGuard } from './invalidate/trust.js'

export type { ProxyOptions, ResolvedConfig } from './config/resolve.js'
export type { LacquerConfig, RuleConfig } from './config/schema.js'
export { defineConfig } from './config/schema.js'
export { loadConfig, findConfigFile, CONFIG_FILE_NAMES } from './config/load.js'
export type * from './policy/types.js'
export type { CacheStore, StoredObject, StoreWriter, StoreStats } from './store/types.js'
export { LacquerError, ERRORS } from './errors.js'
export { MemoryStore } from './store/memory-store.js'
export * as builtin from './policy/builtin.js'
export type { InvalidationBus } from './invalidate/bus.js'
export type { InvalidationCommand, InvalidationReceipt } from './invalidate/invalidator.js'

export interface Proxy {
  readonly config: ResolvedConfig
  /** resolves with the bound addresses once both ports listen */
  listen(): Promise<{ url: string; adminUrl: string | null }>
  /**
   * Swaps in a new config and policy atomically, keeping the store (and so the cache).
   * A bad config throws (ERR_CONFIG_INVALID) and the running one stays. Addresses, the
   * origin and the store's size are fixed at start; changing them needs a restart.
   */
  reload(config: ProxyOptions, policy?: Policy): string[]
  /** Reopens the access log file (after logrotate moved it); the CLI calls it on SIGHUP. */
  reopenLogs(): void
  close(): Promise<void>
  readonly counters: Readonly<Counters>
  readonly store: CacheStore
  /** what the admin port shows, as functions (a cluster's primary asks each worker's) */
  readonly adminSource: LocalAdminSource
}

export interface CreateProxyExtras {
  logger?: Logger
  store?: CacheStore
  /** called by the admin port's POST /reload; returns the warnings of the reload */
  onReloadRequest?: () => Promise<string[]>
  /** where purges are published; default: this process only */
  bus?: InvalidationBus
  /** where access log lines go instead of accessLog.output's stream (a cluster worker: to its primary) */
  accessLogOutput?: Writable
}

function compilePolicy(config: ResolvedConfig, policy: Policy | undefined): CompiledPolicy {
  const builtin = createBuiltinPolicy({ cookies: config.cookies, perUserSecret: config.perUser.secret, keepForErrorsMs: KEEP_FOR_ERRORS_MS })
  return composePolicy(policy, builtin)
}

export function createProxy(options: ProxyOptions, policy?: Policy, extras: CreateProxyExtras = {}): Proxy {
  let config = resolveConfig(options)
  const userPolicy = policy ?? options.hooks
  const store = extras.store ?? new MemoryStore({
    maxBytes: config.store.maxBytes, maxObjectBytes: config.store.maxObjectBytes,
    maxEntriesPerPartition: config.perUser.maxEntriesPerUser, maxBytesPerPartition: config.perUser.maxBytesPerUser,
  })
  const log = extras.logger ?? createLogger(config.logLevel)
  const origin = new OriginSet(config.origins, config.director, log)
  // a benchmark switch, not a user feature: bench/observe-overhead.mjs compares counting on and off
  const observer = new Observer(process.env.LACQUER_BENCH_METRICS !== 'off')
  if (config.accessLog) observer.accessLog = new AccessLog({ ...config.accessLog, output: extras.accessLogOutput ?? config.accessLog.output }, (message) => log('error', message))
  const invalidator = new Invalidator(store, log, {
    maxBans: config.invalidation.maxBans, sweepIntervalMs: config.invalidation.banSweepIntervalMs,
    onInvalidated: (kind, mode, count) => observer.invalidated(kind, mode, count),
  })
  const ctx: ProxyContext = {
    config, store, origin, policy: compilePolicy(config, userPolicy), busy: new Map(), hitForMiss: new HitForMiss(), counters: newCounters(), log,
    invalidator, bus: extras.bus ?? new LocalInvalidationBus(invalidator), trust: new TrustGuard(config.trust), observer,
  }
  const server = createProxyServer(ctx)
  // a benchmark switch, not a user feature (bench/observe-overhead.mjs --alternate)
  const toggleMs = Number(process.env.LACQUER_BENCH_OBSERVE_TOGGLE_MS)
  const stopToggle = toggleMs > 0 ? startObserveToggle(ctx, toggleMs, process.env.LACQUER_BENCH_OBSERVE_TOGGLE as TogglePart | undefined) : undefined
  const adminSource = new LocalAdminSource(ctx, extras.onReloadRequest)
  const admin = config.admin ? createAdminServer(adminSource) : null

  return {
    get config() { return ctx.config },
    counters: ctx.counters,
    store,
    adminSource,
    async listen() {
      const url = await listenOn(server.listener, 'listen', config.listen.host, config.listen.port)
      let adminUrl: string | null = null
      if (admin && config.admin) {
        try {
          adminUrl = await listenOn(admin, 'admin', config.admin.host, config.admin.port)
        } catch (err) {
          server.listener.close()
          throw err
        }
      }
      origin.start()
      log('info', 'lacquer listening', {
        url, adminUrl, origin: config.origin.url, rules: config.rules.length,
        ...(config.origins.length > 1 && { origins: config.origins.map((o) => o.url), director: config.director.type }),
      })
      warnIfBeyondLoopback(config.admin, log)
      return { url, adminUrl }
    },
    reload(next, nextPolicy) {
      const resolved = resolveConfig(next)
      const warnings: string[] = []
      const fixed = (name: string, a: unknown, b: unknown) => {
        if (JSON.stringify(a) !== JSON.stringify(b)) warnings.push(`${name} changed: it takes effect only after a restart`)
      }
      fixed('listen', resolved.listen, config.listen)
      fixed('admin', resolved.admin, config.admin)
      fixed('workers', resolved.workers, config.workers)
      const warnedBefore = warnings.length
      fixed('origin', resolved.origin, config.origin)
      // the first origin's change is reported once, as `origin`
      if (warnings.length === warnedBefore) fixed('origins', resolved.origins, config.origins)
      fixed('director', resolved.director, config.director)
      fixed('store', resolved.store, config.store)
      fixed('limits', resolved.limits, config.limits)
      fixed('accessLog', resolved.accessLog, config.accessLog)
      fixed('invalidation.maxBans', resolved.invalidation.maxBans, config.invalidation.maxBans)
      fixed('invalidation.banSweepInterval', resolved.invalidation.banSweepIntervalMs, config.invalidation.banSweepIntervalMs)
      // keep the running per-user secret unless the new config names one: generated keys stay valid
      const perUser = resolved.perUser.isSecretGenerated ? { ...resolved.perUser, secret: config.perUser.secret } : resolved.perUser
      const swapped: ResolvedConfig = Object.freeze({
        ...resolved, listen: config.listen, admin: config.admin, origin: config.origin, origins: config.origins, director: config.director, store: config.store, limits: config.limits, perUser,
        accessLog: config.accessLog,
      })
      config = swapped
      // one synchronous assignment pair: no request sees a new config with an old policy
      ctx.config = swapped
      ctx.trust = new TrustGuard(swapped.trust)
      // a policy given to createProxy stays unless the reload brings one (in its call or its config)
      ctx.policy = compilePolicy(swapped, nextPolicy ?? next.hooks ?? policy)
      log('info', 'config reloaded', { rules: swapped.rules.length, warnings })
      // a reload reopens the access log too (as nginx's does): a logrotate postrotate may use either
      observer.accessLog?.reopen()
      return warnings
    },
    reopenLogs() {
      observer.accessLog?.reopen()
    },
    async close() {
      stopToggle?.()
      log('info', 'lacquer closing: finishing responses under way', { drainMs: DRAIN_TIMEOUT_MS })
      admin?.hub.close()
      await Promise.all([server.close(DRAIN_TIMEOUT_MS), admin ? closeServer(admin, 0) : undefined])
      await ctx.bus.close()
      invalidator.close()
      await origin.close()
      await store.close()
      await observer.accessLog?.close()
    },
  }
}

/** @internal Listens, naming the problem (port in use, no permission, unknown address) in a LacquerError; resolves with the URL. */
export function listenOn(server: net.Server, key: string, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? `${host}:${port} is already in use; stop the other process or choose another --${key} address`
        : err.code === 'EACCES' ? `no permission to listen on ${host}:${port}; use a port above 1023`
          : err.code === 'EADDRNOTAVAIL' ? `${host} is not an address of this machine`
            : err.message
      reject(new LacquerError('ERR_SERVER_LISTEN', `${key}: ${why}`, { cause: err }))
    }
    server.once('error', onError)
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', onError)
      const address = server.address() as AddressInfo
      const h = address.family === 'IPv6' ? `[${address.address}]` : address.address
      resolve(`http://${h}:${address.port}`)
    })
  })
}

/**
 * Connections the kernel may hold for us before we accept them (capped by net.core.somaxconn):
 * a spike opens thousands at once, and node's default (511) would make the rest retry their SYN
 * a second later.
 */
const LISTEN_BACKLOG = 4096

/** How long a closing server lets responses under way finish before cutting connections. */
export const DRAIN_TIMEOUT_MS = 10_000

/** @internal Stops accepting, lets responses under way finish (idle keep-alive connections close at once), then cuts what is left. */
export function closeServer(server: http.Server, drainMs = DRAIN_TIMEOUT_MS): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), drainMs)
    timer.unref()
    server.close(() => { clearTimeout(timer); resolve() })
    server.closeIdleConnections()
  })
}
