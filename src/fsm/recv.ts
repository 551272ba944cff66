/**
 * @module fsm/recv
 * recv — a new client request. Asks policy whether to look it up, pass it or answer it.
 * Exits: hash, pass, synth.
 */
import { removeHeader, setHeader } from '../http-cache/header-list.js'
import type { Step } from './steps.js'

export const recv: Step = {
  name: 'recv',
  exits: ['hash', 'pass', 'synth'],
  run(tx) {
    tx.ctx.counters.requests++
    const action = tx.ctx.policy.recv(tx.request)
    switch (action.action) {
      case 'hash':
        if (action.cookie === null) removeHeader(tx.request.headers, 'cookie')
        else if (action.cookie !== undefined) setHeader(tx.request.headers, 'cookie', action.cookie)
        return 'hash'
      case 'pass':
        tx.passDetail = action.detail
        return 'pass'
      case 'synth':
        tx.synthetic = { status: action.status, reason: action.reason }
        return 'synth'
      default: {
        const illegal: never = action
        throw new Error(`recv: illegal action ${JSON.stringify(illegal)}`)
      }
    }
  },
}
