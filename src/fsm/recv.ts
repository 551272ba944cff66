/**
 * @module fsm/recv
 * recv — a new client request. Matches the first config rule, normalises the URL (tracking
 * parameters dropped, query dropped or sorted as the rule says: what is keyed is what is
 * forwarded), then asks policy whether to look it up, pass it or answer it.
 * Exits: hash, pass, synth.
 */
import { applyEdits } from '../http-cache/header-list.js'
import { matchRule, normalisePath } from '../policy/rules.js'
import { type Step, illegalAction } from './steps.js'

export const recv: Step = {
  name: 'recv',
  exits: ['hash', 'pass', 'synth'],
  run(tx) {
    const { ctx, request } = tx
    ctx.counters.requests++
    const { config } = ctx
    request.rule = config.rules.length ? matchRule(config.rules, request) : undefined
    const key = request.rule?.key
    const dropParams = key?.dropParams ? [...config.dropParams, ...key.dropParams] : config.dropParams
    request.path = normalisePath(request.path, dropParams, key?.query)
    const action = ctx.policy.recv(request)
    switch (action.action) {
      case 'hash':
        applyEdits(request.headers, action.edits)
        return 'hash'
      case 'pass':
        applyEdits(request.headers, action.edits)
        tx.passDetail = action.detail
        return 'pass'
      case 'synth':
        tx.synthetic = { status: action.status, reason: action.reason }
        return 'synth'
      default:
        return illegalAction('recv', action)
    }
  },
}
