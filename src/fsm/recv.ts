/**
 * @module fsm/recv
 * recv — a new client request. Matches the first config rule, normalises the URL (tracking
 * parameters dropped, query dropped or sorted as the rule says: what is keyed is what is
 * forwarded), then asks policy whether to look it up, pass it or answer it. A PURGE (when
 * enabled) goes to purge, which checks who asks. `Lacquer-Debug` is honoured for trusted callers
 * only, and never forwarded.
 * Exits: purge, hash, pass, synth.
 */
import { type HeaderList, applyEdits, getAll, getFirst, removeHeader } from '../http-cache/header-list.js'
import { routeRequest } from '../policy/rules.js'
import { type Step, illegalAction } from './steps.js'
import type { Transaction } from './transaction.js'

/**
 * Asks for internal fields in the response: `tags` (the surrogate keys), `trace` (the states
 * and the cache key, in Lacquer-Trace and Lacquer-Key); honoured for trusted callers only.
 */
export const DEBUG_HEADER = 'lacquer-debug'

export const recv: Step = {
  name: 'recv',
  exits: ['purge', 'hash', 'pass', 'synth'],
  run(tx) {
    const { ctx, request } = tx
    ctx.counters.requests++
    const { config } = ctx
    const debug = getAll(request.headers, DEBUG_HEADER)
    if (debug.length) {
      removeHeader(request.headers, DEBUG_HEADER)
      const words = new Set(debug.join(',').toLowerCase().split(/[\s,]+/))
      if ((words.has('tags') || words.has('trace')) && ctx.trust.check(request.clientAddress, getFirst(request.headers, 'authorization')).ok) {
        tx.showsTags = words.has('tags')
        tx.showsTrace = words.has('trace')
      }
    }
    // kept for ESI: a page's fragments get the client's own fields, not the page's edited ones
    // (the list is copied before recv edits it, below; most requests are never edited)
    tx.clientView = { headers: request.headers, path: request.path }
    // a PURGE is routed as the GET it purges: the same rule, so the same key normalisation
    const route = routeRequest(config.rules, config.dropParams, request.method === 'PURGE' ? { ...request, method: 'GET' } : request)
    request.rule = route.rule
    request.path = route.path
    if (request.method === 'PURGE' && config.invalidation.purgeMethod) return 'purge'
    // Lacquer's own bearer token is for Lacquer: never forwarded to the app, never a reason not to cache
    if (config.trust.token !== undefined && ctx.trust.hasToken(getFirst(request.headers, 'authorization'))) {
      request.headers = editable(tx)
      removeHeader(request.headers, 'authorization')
    }
    const action = ctx.policy.recv(request)
    switch (action.action) {
      case 'hash':
        if (action.edits) applyEdits(request.headers = editable(tx), action.edits)
        return 'hash'
      case 'pass':
        if (action.edits) applyEdits(request.headers = editable(tx), action.edits)
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

/** The request's field list, copied once before its first edit: the client's own stays as it came (tx.clientView). */
function editable(tx: Transaction): HeaderList {
  const { request } = tx
  return request.headers === tx.clientView?.headers ? request.headers.slice() : request.headers
}
