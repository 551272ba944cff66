/**
 * @module fsm/hash
 * hash — computes the primary cache key (RFC 9111 §2: the target URI; scheme + host + path + query).
 * Exits: lookup.
 */
import { makeCacheKey } from '../context.js'
import type { Step } from './steps.js'

export const hash: Step = {
  name: 'hash',
  exits: ['lookup'],
  run(tx) {
    tx.key = makeCacheKey(tx.request.scheme, tx.request.host, tx.request.path)
    return 'lookup'
  },
}
