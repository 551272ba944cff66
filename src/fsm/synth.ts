/**
 * @module fsm/synth
 * synth — a response made by Lacquer itself: errors (400/431/502/504…) and policy answers.
 * Never stored. Cache-Status names the reason.
 * Exits: finish.
 */
import type { HeaderList } from '../http-cache/header-list.js'
import { formatHttpDate } from '../http-cache/http-date.js'
import type { CacheStatusDetail } from '../observe/cache-status.js'
import { ERRORS, RETRY_AFTER_SECONDS, type ErrorCode } from '../errors.js'
import { addProxyFields } from './deliver.js'
import type { Step } from './steps.js'

export const DETAIL_BY_ERROR: Partial<Record<ErrorCode, CacheStatusDetail>> = {
  ERR_ORIGIN_UNREACHABLE: 'ORIGIN-UNREACHABLE',
  ERR_ORIGIN_TIMEOUT: 'ORIGIN-TIMEOUT',
  ERR_ORIGIN_BAD_RESPONSE: 'ORIGIN-BAD-RESPONSE',
  ERR_ORIGIN_INCOMPLETE_BODY: 'INCOMPLETE-BODY',
  ERR_ORIGIN_ALL_SICK: 'NO-HEALTHY-ORIGIN',
  ERR_ORIGIN_QUEUE_FULL: 'ORIGIN-QUEUE-FULL',
  ERR_ORIGIN_TOO_MANY_WAITERS: 'TOO-MANY-WAITERS',
  ERR_ORIGIN_WAIT_TIMEOUT: 'WAIT-TIMEOUT',
  ERR_HTTP_BAD_REQUEST: 'BAD-REQUEST',
  ERR_HTTP_BAD_HOST: 'BAD-REQUEST',
  ERR_HTTP_HEADERS_TOO_LARGE: 'BAD-REQUEST',
  ERR_HTTP_URI_TOO_LONG: 'BAD-REQUEST',
  ERR_HTTP_REQUEST_TIMEOUT: 'BAD-REQUEST',
  ERR_HTTP_EXPECTATION_FAILED: 'BAD-REQUEST',
  ERR_HTTP_METHOD_NOT_IMPLEMENTED: 'BAD-REQUEST',
}

export const synth: Step = {
  name: 'synth',
  exits: ['finish'],
  run(tx) {
    tx.ctx.counters.synths++
    const synthetic = tx.synthetic ?? { status: 500, reason: 'internal error' }
    const detail = synthetic.detail ?? (synthetic.error ? DETAIL_BY_ERROR[synthetic.error.code] : undefined)
    if (detail) tx.cacheStatus.detail = detail
    // an error's own message may carry internals (undici's, a socket's): the client gets the catalog's words
    const reason = synthetic.error ? ERRORS[synthetic.error.code].message : synthetic.reason
    const body = Buffer.from(`${synthetic.status} ${reason}\n`)
    const headers: HeaderList = [
      ['date', formatHttpDate(Date.now())],
      ['content-type', 'text/plain; charset=utf-8'],
      ['content-length', String(body.length)],
      ['cache-control', 'no-store'],
    ]
    if (synthetic.error) {
      headers.push(['lacquer-error', synthetic.error.code])
      const retryAfter = RETRY_AFTER_SECONDS[synthetic.error.code]
      if (retryAfter !== undefined && synthetic.status === 503) headers.push(['retry-after', String(retryAfter)])
    }
    addProxyFields(tx, headers)
    tx.sink.send(synthetic.status, '', headers, tx.request.method === 'HEAD' ? undefined : body)
    return 'finish'
  },
}
