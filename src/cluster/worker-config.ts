/**
 * @module cluster/worker-config
 * The config a worker of `lacquer serve --workers N` runs: the file and flags as given, with
 * three changes. The admin port is the primary's. The memory store's size is divided between
 * the workers (each keeps its own store: `store.size` stays the bound of the whole process
 * tree). The per-user secret, when the file names none, is the one the primary generated, so
 * that a user's requests make the same key in every worker.
 */
import { DEFAULTS } from '../config/resolve.js'
import type { LacquerConfig } from '../config/schema.js'
import { parseSize } from '../config/units.js'
import { LacquerError } from '../errors.js'

export interface WorkerSettings {
  workers: number
  /** generated once by the primary; used when the config names no perUser.secret */
  perUserSecret: string
}

export function workerConfig(config: LacquerConfig, settings: WorkerSettings): LacquerConfig {
  const sizeText = config.store?.size ?? DEFAULTS.storeSize
  const total = parseSize(sizeText)
  const store = { ...config.store }
  // a size that does not parse is left for resolveConfig to report, with the key named
  if (total !== undefined && total > 0) {
    const share = Math.floor(total / settings.workers)
    const maxObject = config.store?.maxObjectSize === undefined ? undefined : parseSize(config.store.maxObjectSize)
    if (maxObject !== undefined && maxObject > share) {
      throw new LacquerError('ERR_CONFIG_INVALID', `store.maxObjectSize: ${JSON.stringify(config.store!.maxObjectSize)} is more than each worker's share of store.size (${sizeText} / ${settings.workers} workers = ${share} bytes); lower it, raise store.size, or run fewer --workers`)
    }
    store.size = share
  }
  return {
    ...config,
    admin: false,
    store,
    perUser: { ...config.perUser, secret: config.perUser?.secret ?? settings.perUserSecret },
  }
}
