/**
 * @module fsm/pass
 * pass — forwards the request to the origin for this client alone; nothing is stored.
 * Unsafe methods go this way, and invalidate what they name (RFC 9111 §4.4).
 * Exits: deliver, synth.
 */
import { LacquerError } from '../errors.js'
import { startFetch } from '../fetch/fetch-task.js'
import type { Step } from './steps.js'

export const pass: Step = {
  name: 'pass',
  exits: ['deliver', 'synth'],
  async run(tx) {
    const { ctx } = tx
    const action = ctx.policy.pass(tx.request)
    if (action.action === 'synth') {
      tx.synthetic = { status: action.status, reason: action.reason }
      return 'synth'
    }
    ctx.counters.passes++
    if (!tx.cacheStatus.fwd) tx.cacheStatus.fwd = tx.request.method === 'GET' || tx.request.method === 'HEAD' ? 'bypass' : 'method'
    if (tx.passDetail) tx.cacheStatus.detail = tx.passDetail
    const busy = startFetch(ctx, {
      mode: 'pass', key: tx.key, request: tx.request, body: tx.body, passDetail: tx.passDetail,
      onInformational: (status, headers) => tx.sink.informational(status, headers),
    })
    const head = await busy.whenHead()
    if (head instanceof LacquerError) {
      tx.synthetic = { status: head.statusCode, reason: head.message, error: head }
      return 'synth'
    }
    tx.busy = busy
    tx.head = head
    tx.cacheStatus.fwdStatus = head.originStatus
    return 'deliver'
  },
}
