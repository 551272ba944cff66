/**
 * @module lacquer
 * Public API: `createProxy(options, policy?)` and the public types. Nothing else.
 */
import type http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdminServer } from './admin/admin-server.js'
import { type ProxyOptions, type ResolvedConfig, resolveConfig } from './config/resolve.js'
import { type Counters, type ProxyContext, newCounters } from './context.js'
import { LacquerError } from './errors.js'
import { createHttpServer } from './http/server.js'
import { type Logger, createLogger } from './observe/logger.js'
import { OriginClient } from './origin/origin-client.js'
import { composePolicy } from './policy/builtin.js'
import type { Policy } from './policy/types.js'
import { MemoryStore } from './store/memory-store.js'
import type { CacheStore } from './store/types.js'

export type { ProxyOptions, ResolvedConfig } from './config/resolve.js'
export type { Policy, RecvAction, BackendResponseAction, RequestView, ResponseView, Rule } from './policy/types.js'
export type { CacheStore, StoredObject, StoreWriter, StoreStats } from './store/types.js'
export { LacquerError, ERRORS } from './errors.js'
export { MemoryStore } from './store/memory-store.js'
export * as builtin from './policy/builtin.js'

export interface Proxy {
  readonly config: ResolvedConfig
  /** resolves with the bound addresses once both ports listen */
  listen(): Promise<{ url: string; adminUrl: string | null }>
  close(): Promise<void>
  readonly counters: Readonly<Counters>
  readonly store: CacheStore
}

export interface CreateProxyExtras {
  logger?: Logger
  store?: CacheStore
}

export function createProxy(options: ProxyOptions, policy?: Policy, extras: CreateProxyExtras = {}): Proxy {
  const config = resolveConfig(options)
  const store = extras.store ?? new MemoryStore({ maxBytes: config.store.maxBytes, maxObjectBytes: config.store.maxObjectBytes })
  const origin = new OriginClient({ ...config.origin })
  const ctx: ProxyContext = {
    config, store, origin, policy: composePolicy(policy), busy: new Map(), counters: newCounters(),
    log: extras.logger ?? createLogger('info'),
  }
  const server = createHttpServer(ctx)
  const admin = config.admin ? createAdminServer(ctx) : null

  return {
    config,
    counters: ctx.counters,
    store,
    async listen() {
      const url = await listenOn(server, 'listen', config.listen.host, config.listen.port)
      let adminUrl: string | null = null
      if (admin && config.admin) {
        try {
          adminUrl = await listenOn(admin, 'admin', config.admin.host, config.admin.port)
        } catch (err) {
          server.close()
          throw err
        }
      }
      ctx.log('info', 'lacquer listening', { url, adminUrl, origin: config.origin.url })
      return { url, adminUrl }
    },
    async close() {
      await Promise.all([closeServer(server), admin ? closeServer(admin) : undefined])
      await origin.close()
      await store.close()
    },
  }
}

function listenOn(server: http.Server, key: string, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? `${host}:${port} is already in use; stop the other process or choose another --${key} address`
        : err.code === 'EACCES' ? `no permission to listen on ${host}:${port}; use a port above 1023`
          : err.code === 'EADDRNOTAVAIL' ? `${host} is not an address of this machine`
            : err.message
      reject(new LacquerError('ERR_SERVER_LISTEN', `${key}: ${why}`, { cause: err }))
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      const address = server.address() as AddressInfo
      const h = address.family === 'IPv6' ? `[${address.address}]` : address.address
      resolve(`http://${h}:${address.port}`)
    })
  })
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}
