/**
 * @module fsm/purge
 * purge — `PURGE <url>` on the proxy port (Varnish's `return (purge)`, Fastly's purge by URL).
 * Only trusted callers (trust.allow, or the bearer token) may purge; anyone else gets a 403
 * (401 when the token is required and missing) and nothing is invalidated. The URL has
 * already been routed and normalised by recv exactly as a GET's key is, and the purge covers
 * every stored variant of it: each Vary variant, both schemes, every user's entry.
 *   `Lacquer-Soft-Purge: 1` (or `Fastly-Soft-Purge: 1`) marks stale instead of removing;
 *   `xkey-purge: a b` (or `Surrogate-Key`) purges those tags instead of the URL.
 * The command goes out on the invalidation bus; the answer is its JSON receipt.
 * Exits: synth, finish.
 */
import { makeCacheKey } from '../context.js'
import { getAll, getFirst } from '../http-cache/header-list.js'
import type { HeaderList } from '../http-cache/header-list.js'
import { formatHttpDate } from '../http-cache/http-date.js'
import type { InvalidationCommand } from '../invalidate/invalidator.js'
import { TooManyBansError } from '../invalidate/invalidator.js'
import { MAX_PURGE_ITEMS } from '../invalidate/command.js'
import { MAX_TAG_LENGTH } from '../invalidate/tags.js'
import { resourceOfKey } from '../store/types.js'
import { addProxyFields } from './deliver.js'
import type { Next, Step } from './steps.js'
import type { Transaction } from './transaction.js'

export const SOFT_PURGE_HEADERS = ['lacquer-soft-purge', 'fastly-soft-purge'] as const
export const TAG_PURGE_HEADERS = ['xkey-purge', 'surrogate-key', 'cache-tag'] as const

export const purge: Step = {
  name: 'purge',
  exits: ['synth', 'finish'],
  run(tx) {
    const { ctx, request } = tx
    const verdict = ctx.trust.check(request.clientAddress, getFirst(request.headers, 'authorization'))
    if (!verdict.ok) {
      ctx.log('warn', 'purge refused', { client: request.clientAddress, url: `${request.host}${request.path}`, reason: verdict.reason })
      tx.synthetic = { status: verdict.status, reason: `purge refused: ${verdict.reason}`, detail: 'PURGE-REFUSED' }
      return 'synth'
    }
    const isSoft = SOFT_PURGE_HEADERS.some((name) => getFirst(request.headers, name)?.trim() === '1')
    const tags = TAG_PURGE_HEADERS.flatMap((name) => getAll(request.headers, name)).flatMap((v) => v.split(/[\s,]+/)).filter(Boolean)
    // the same limits as the admin API's (invalidate/command.ts)
    const problem = tags.length > MAX_PURGE_ITEMS ? `${tags.length} tags; send at most ${MAX_PURGE_ITEMS}`
      : tags.find((t) => t.length > MAX_TAG_LENGTH) ? `a tag longer than ${MAX_TAG_LENGTH} characters` : undefined
    if (problem) {
      tx.synthetic = { status: 400, reason: `purge refused: ${problem}; nothing was invalidated` }
      return 'synth'
    }
    const command: InvalidationCommand = tags.length
      ? { mode: isSoft ? 'soft' : 'hard', tags }
      : { mode: isSoft ? 'soft' : 'hard', resources: [resourceOfKey(makeCacheKey(request.scheme, request.host, request.path))] }
    ctx.counters.purges++
    const purged = tags.length ? { tags } : { url: `${request.scheme}://${request.host}${request.path}` }
    return ctx.bus.publish(command).then((receipt) => answer(tx, 200, { ok: true, purged, ...receipt }), (err: Error) => {
      tx.synthetic = { status: err instanceof TooManyBansError ? 503 : 400, reason: `purge failed: ${err.message}` }
      return 'synth' as const
    })
  },
}

function answer(tx: Transaction, status: number, value: unknown): Next {
  const body = Buffer.from(`${JSON.stringify(value)}\n`)
  const headers: HeaderList = [
    ['date', formatHttpDate(Date.now())],
    ['content-type', 'application/json'],
    ['content-length', String(body.length)],
    ['cache-control', 'no-store'],
  ]
  tx.cacheStatus.detail = 'PURGED'
  addProxyFields(tx, headers)
  tx.sink.send(status, 'OK', headers, tx.request.method === 'HEAD' ? undefined : body)
  return 'finish'
}
