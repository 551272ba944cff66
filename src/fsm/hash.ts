/**
 * @module fsm/hash
 * hash — computes the primary cache key (RFC 9111 §2: the target URI; scheme + host + path +
 * query), plus the parts policy adds (a per-user keyed hash, header values of `key.vary`).
 * Exits: lookup.
 */
import { makeCacheKey } from '../context.js'
import type { Step } from './steps.js'

export const hash: Step = {
  name: 'hash',
  exits: ['lookup'],
  run(tx) {
    const { request } = tx
    const action = tx.ctx.policy.hash(request)
    const base = makeCacheKey(request.scheme, request.host, request.path)
    // parts are joined with a byte no URL or header value can hold, so they cannot collide with the URI
    tx.key = action.keyParts?.length ? `${base}\n${action.keyParts.join('\n')}` : base
    tx.partition = action.partition
    request.partition = action.partition
    return 'lookup'
  },
}
