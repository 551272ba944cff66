/**
 * @module cluster/cluster-bus
 * The invalidation bus of a worker of `lacquer serve --workers N`: a purge received on the
 * proxy port (or an unsafe method's invalidation) is sent to the primary, which applies it in
 * every worker's store — this one included — and answers with the receipts summed.
 */
import type { InvalidationBus } from '../invalidate/bus.js'
import { type InvalidationCommand, type InvalidationReceipt, TooManyBansError } from '../invalidate/invalidator.js'
import { type Channel, RemoteError } from './ipc.js'

/** What the primary's `publish` call takes. */
export interface PublishArgs {
  command: InvalidationCommand
  waitForBans: boolean
}

export class ClusterInvalidationBus implements InvalidationBus {
  readonly name = 'cluster'

  constructor(private readonly primary: Channel) {}

  async publish(command: InvalidationCommand, options: { waitForBans?: boolean } = {}): Promise<InvalidationReceipt> {
    try {
      return await this.primary.call<InvalidationReceipt>('publish', { command, waitForBans: options.waitForBans ?? false } satisfies PublishArgs)
    } catch (err) {
      throw asLocalError(err as Error)
    }
  }

  async close(): Promise<void> {}
}

/** A full ban list is a 503 wherever it was found (fsm/purge and the admin API test for the class). */
export function asLocalError(err: Error): Error {
  return err instanceof RemoteError && err.remoteName === 'TooManyBansError' ? new TooManyBansError(err.message) : err
}
