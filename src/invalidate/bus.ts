/**
 * @module invalidate/bus
 * The one way an invalidation is issued: the proxy port's PURGE, the admin API and the CLI all
 * publish a command on the bus, and the bus delivers it to every node's Invalidator. The local
 * bus delivers to this process only; the cluster bus (cluster/cluster-bus.ts) to every worker
 * of `--workers N`; a shared bus (Redis pub/sub, a later issue) implements the same interface
 * so that a purge reaches every node. The receipt then sums them (`sumReceipts`).
 */
import type { InvalidationCommand, InvalidationReceipt, Invalidator } from './invalidator.js'

export interface InvalidationBus {
  readonly name: string
  /** Applies the command everywhere it reaches; rejects (nothing applied) on a bad command. */
  publish(command: InvalidationCommand, options?: { waitForBans?: boolean }): Promise<InvalidationReceipt>
  close(): Promise<void>
}

export class LocalInvalidationBus implements InvalidationBus {
  readonly name = 'local'
  constructor(private readonly invalidator: Invalidator) {}

  publish(command: InvalidationCommand, options: { waitForBans?: boolean } = {}): Promise<InvalidationReceipt> {
    return this.invalidator.apply(command, options.waitForBans ?? false)
  }

  async close(): Promise<void> {
    this.invalidator.close()
  }
}

/**
 * One receipt for a command applied in several places (workers, nodes): the counts added up,
 * each ban's counts added up by position (every place got the same command, so the same bans
 * in the same order), complete only when complete everywhere.
 */
export function sumReceipts(receipts: readonly InvalidationReceipt[]): InvalidationReceipt {
  const [first, ...rest] = receipts
  if (!first) throw new RangeError('no receipt to sum')
  const sum: InvalidationReceipt = { ...first, invalidated: { ...first.invalidated }, bans: first.bans.map((ban) => ({ ...ban })) }
  for (const receipt of rest) {
    sum.invalidated.urls += receipt.invalidated.urls
    sum.invalidated.tags += receipt.invalidated.tags
    sum.invalidated.bans += receipt.invalidated.bans
    receipt.bans.forEach((ban, i) => {
      const total = sum.bans[i]
      if (total) { total.tested += ban.tested; total.invalidated += ban.invalidated }
    })
    sum.isComplete &&= receipt.isComplete
  }
  return sum
}
