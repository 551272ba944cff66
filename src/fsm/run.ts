/**
 * @module fsm/run
 * The only sequencer of client-side states: runs a transaction from recv to done, records
 * each state on `tx.trace`, and checks every hand-over against the step's declared exits.
 */
import { deliver } from './deliver.js'
import { finish } from './finish.js'
import { hash } from './hash.js'
import { hit } from './hit.js'
import { lookup } from './lookup.js'
import { miss } from './miss.js'
import { pass } from './pass.js'
import { purge } from './purge.js'
import { recv } from './recv.js'
import type { Next, State, Step } from './steps.js'
import { synth } from './synth.js'
import type { Transaction } from './transaction.js'

export const STEPS: Readonly<Record<State, Step>> = { recv, purge, hash, lookup, hit, miss, pass, deliver, synth, finish }

export async function runTransaction(tx: Transaction, start: State = 'recv'): Promise<void> {
  let state: State = start
  for (;;) {
    tx.trace.push(state)
    const step = STEPS[state]
    let next: Next
    try {
      const result = step.run(tx)
      next = result instanceof Promise ? await result : result
    } catch (err) {
      tx.ctx.log('error', 'state failed', { state, id: tx.id, error: (err as Error)?.stack ?? String(err) })
      // nothing sent yet from deliver: a clean 500 is still possible; otherwise the response is cut
      // (never completed as if whole), and the observer still counts the request
      if (state === 'synth' || state === 'finish' || (state === 'deliver' && tx.sink.status !== 0)) {
        tx.sink.abort()
        if (state !== 'finish') tx.ctx.observer.request(tx)
        return
      }
      // any state may fail into synth: the one edge the driver adds itself
      tx.synthetic = { status: 500, reason: 'internal error' }
      state = 'synth'
      continue
    }
    if (next === 'done') return
    if (!step.exits.includes(next)) throw new Error(`fsm: ${state} may not hand over to ${next}`)
    state = next
  }
}
