/**
 * @module fsm/finish
 * finish — the response is complete (or aborted). Bookkeeping only: the observer counts it
 * (metrics, live numbers, access log).
 * Exits: done.
 */
import type { Step } from './steps.js'

export const finish: Step = {
  name: 'finish',
  exits: ['done'],
  run(tx) {
    tx.ctx.observer.request(tx)
    // the fields are built only when they will be written: a hit should not pay for a debug line
    if (tx.ctx.config.logLevel === 'debug') {
      tx.ctx.log('debug', 'request done', {
        id: tx.id, method: tx.request.method, path: tx.request.path, trace: tx.trace.join('>'), ms: Date.now() - tx.startedAt,
      })
    }
    return 'done'
  },
}
