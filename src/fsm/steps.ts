/**
 * @module fsm/steps
 * The client-side states (Varnish's cache_req_fsm.c vocabulary) and the Step contract.
 * Each state is one file exporting one Step; fsm/run.ts sequences them. The diagram in
 * docs/architecture.md is generated from STATES and each step's `exits`.
 */
import type { Transaction } from './transaction.js'

export const STATES = ['recv', 'purge', 'hash', 'lookup', 'hit', 'miss', 'pass', 'deliver', 'synth', 'finish'] as const
export type State = (typeof STATES)[number]
export type Next = State | 'done'

/** The exhaustiveness guard of every state's action switch: a compile error when an action is unhandled. */
export function illegalAction(state: State, action: never): never {
  throw new Error(`${state}: illegal action ${JSON.stringify(action)}`)
}

export interface Step {
  readonly name: State
  /** the states this one may hand over to; checked by the driver, drawn in the diagram */
  readonly exits: readonly Next[]
  run(tx: Transaction): Next | Promise<Next>
}
