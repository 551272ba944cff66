/**
 * @module invalidate/bus
 * The one way an invalidation is issued: the proxy port's PURGE, the admin API and the CLI all
 * publish a command on the bus, and the bus delivers it to every node's Invalidator. The local
 * bus delivers to this process only; a shared bus (Redis pub/sub, a later issue) implements
 * the same interface so that a purge reaches every node, and the receipt then sums them.
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
