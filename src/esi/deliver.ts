/**
 * @module esi/deliver
 * The deliver state for an ESI page (fsm/deliver hands over here when the stored object or the
 * fetched head is ESI). A small machine of its own, one pass per client request:
 *
 *   plan ─▶ assemble ─┬─▶ complete                (every piece written, the response ended)
 *                     ├─▶ failed                  (synth: 502 ERR_ESI_INCLUDE_FAILED or the origin's error)
 *                     └─▶ aborted                 (the head was sent: the connection is cut, never a page that looks whole)
 *
 * plan: the stored document (decoded once from the store, esi/codec) or the nodes parsed by
 * the fetch as they come (esi/feed) are replayed for this request by esi/plan: `choose`
 * evaluated, variables substituted from the client's own fields. assemble: esi/assemble starts
 * every include of each part of the page at once (each a child request, esi/child-request) and
 * yields the page in document order as soon as each piece is ready; a part of the page still
 * arriving from the origin is planned, and its includes started, as soon as it is parsed.
 *
 * Failures (ESI 1.0 §3.1, §3.4): `alt` is tried, then `onerror="continue"` drops the include,
 * else the enclosing `try` takes its `except`; an include no `try` covers is then handled by
 * `esi.onError`: `abort` (§3.1's "status greater than 400": a 502 while nothing is sent, else the
 * response is aborted), `empty` (left out, logged), `comment` (`<!-- esi:include failed -->`).
 *
 * Response fields: no Content-Length (chunked: the length is known at the end only), no ETag,
 * Last-Modified or Accept-Ranges (the page differs per request, as in Varnish), Age of the
 * stored page kept, `Vary: Accept-Encoding` (the page is compressed per client: br or gzip when
 * `esi.compress`), always `Cache-Control: private, no-cache` and no CDN-Cache-Control or Expires
 * (the page is assembled per request — a fragment may be per user by a cookie or any header, and
 * ESI variables read the request — so no shared cache downstream may store it; Lacquer caches
 * the template and the fragments), Cache-Status `detail=ESI-ASSEMBLED`.
 */
import { Transform } from 'node:stream'
import { constants as zlibConstants, createBrotliCompress, createGzip } from 'node:zlib'
import { LacquerError } from '../errors.js'
import { ageHeaderValue } from '../http-cache/freshness.js'
import { type HeaderList, type ReadonlyHeaderList, getAll, has, removeHeader, setHeader, splitList } from '../http-cache/header-list.js'
import { formatHttpDate } from '../http-cache/http-date.js'
import type { Next } from '../fsm/steps.js'
import type { Transaction } from '../fsm/transaction.js'
import { type EsiIncludeError, assemble } from './assemble.js'
import { type EsiRequestContext, fetchFragment, rootEsiContext } from './child-request.js'
import { decodeDocument } from './codec.js'
import type { EsiNode } from './parser.js'
import { type EsiPlan, type PlanItem, buildPlan } from './plan.js'
import { recordEsiPage } from './report.js'

/** The states of one ESI delivery, for the trace and the docs. */
export const ESI_DELIVERY_STATES = ['plan', 'assemble', 'complete', 'failed', 'aborted'] as const
export type EsiDeliveryState = (typeof ESI_DELIVERY_STATES)[number]
export const ESI_DELIVERY_EXITS: Record<EsiDeliveryState, readonly (EsiDeliveryState | 'done')[]> = {
  plan: ['assemble', 'failed'],
  assemble: ['complete', 'failed', 'aborted'],
  complete: ['done'],
  failed: ['done'],
  aborted: ['done'],
}

/** What fsm/deliver lends this module (kept there: the hit path owns them). */
export interface DeliverHelpers {
  hideTags(tx: Transaction, headers: HeaderList): void
  wantsSynth(tx: Transaction, status: number, headers: HeaderList): boolean
  addProxyFields(tx: Transaction, headers: HeaderList): void
}

/** The URL the failure fallback of `esi.onError` stands behind (never fetched). */
const FALLBACK_URL = 'lacquer-esi:fallback'

export type ContentCoding = 'br' | 'gzip'

/** The client's preferred coding among br and gzip (RFC 9110 §12.5.3), or undefined for identity. */
export function chooseCoding(headers: ReadonlyHeaderList): ContentCoding | undefined {
  const weights = new Map<string, number>()
  for (const member of splitList(getAll(headers, 'accept-encoding').join(','))) {
    const [name, ...params] = member.split(';').map((p) => p.trim())
    const q = params.map((p) => /^q=([0-9.]+)$/i.exec(p)?.[1]).find((v) => v !== undefined)
    weights.set(name!.toLowerCase(), q === undefined ? 1 : Number(q))
  }
  const weight = (name: string) => weights.get(name) ?? weights.get('*') ?? 0
  const br = weight('br')
  const gzip = Math.max(weight('gzip'), weights.get('x-gzip') ?? 0)
  if (br > 0 && br >= gzip) return 'br'
  return gzip > 0 ? 'gzip' : undefined
}

/** Response fields of an assembled page (see the module comment). */
function esiResponseFields(tx: Transaction, headers: HeaderList, coding: ContentCoding | undefined): void {
  for (const name of ['content-length', 'content-encoding', 'etag', 'last-modified', 'accept-ranges', 'surrogate-control', 'content-range']) removeHeader(headers, name)
  if (tx.ctx.config.esi.isCompressing) {
    const vary = splitList(getAll(headers, 'vary').join(','))
    if (!vary.includes('*') && !vary.some((v) => v.toLowerCase() === 'accept-encoding')) setHeader(headers, 'vary', [...vary, 'Accept-Encoding'].join(', '))
  }
  if (coding) headers.push(['content-encoding', coding])
  // always, whatever the request carried: a fragment may be keyed per user by any header, and
  // the ESI variables read cookies, languages and user agents, while these fields are sent
  // before any fragment is known; a shared cache downstream must never store an assembled page
  setHeader(headers, 'cache-control', 'private, no-cache')
  removeHeader(headers, 'cdn-cache-control')
  removeHeader(headers, 'expires')
}

/** Makes the failure of an include no `try` covers end in `esi.onError`'s fallback instead of failing the page. */
function addFallbacks(items: readonly PlanItem[], isCovered: boolean): void {
  for (const item of items) {
    if (item.type === 'include') {
      if (isCovered || item.continueOnError) continue
      if (item.refused) { item.urls = []; delete item.refused }
      item.urls.push(FALLBACK_URL)
    } else if (item.type === 'try') {
      addFallbacks(item.attempt, true)
      addFallbacks(item.except, isCovered)
    }
  }
}

/** The page's parts as they become available: one for a stored page, several while it streams from the origin. */
function partsOf(tx: Transaction): AsyncIterable<EsiNode[]> | LacquerError {
  if (tx.object) {
    const doc = decodeDocument(tx.object.body)
    if (!doc) return new LacquerError('ERR_ESI_BAD_DOCUMENT', tx.object.key)
    return (async function* one() { yield doc.nodes })()
  }
  return tx.head!.esi!.batchesOf()
}

export function deliverEsi(tx: Transaction, helpers: DeliverHelpers): Next | Promise<Next> {
  const { ctx } = tx
  const object = tx.object
  const head = tx.head
  const headers: HeaderList = (object ? object.headers : head!.headers).map(([k, v]) => [k, v])
  const status = object ? object.status : head!.status
  const statusText = object ? object.statusText : head!.statusText
  helpers.hideTags(tx, headers)
  if (object) setHeader(headers, 'age', ageHeaderValue(object.freshness, Date.now()))
  else {
    tx.originMs = head!.originMs
    if (head!.isStored || head!.isShareable) setHeader(headers, 'age', ageHeaderValue(head!.freshness, Date.now()))
    if (!has(headers, 'date')) headers.push(['date', formatHttpDate(Date.now())])
  }
  // ── plan
  const parts = partsOf(tx)
  if (parts instanceof LacquerError) {
    ctx.log('error', 'a stored ESI document could not be read; it is refetched next time', { key: tx.object?.key })
    void ctx.store.invalidateObject(tx.object!, 'hard')
    tx.synthetic = { status: parts.statusCode, reason: parts.message, error: parts }
    return 'synth'
  }
  const isHead = tx.request.method === 'HEAD'
  const coding = !isHead && ctx.config.esi.isCompressing ? chooseCoding(tx.request.headers) : undefined
  esiResponseFields(tx, headers, coding)
  if (helpers.wantsSynth(tx, status, headers)) return 'synth'
  tx.cacheStatus.esi = true
  helpers.addProxyFields(tx, headers)
  if (isHead || tx.sink.isClosed) {
    // a HEAD gets the page's fields; no fragment is fetched for it
    tx.sink.send(status, statusText, headers, undefined)
    return 'finish'
  }
  return assembleInto(tx, status, statusText, headers, parts, coding)
}

async function assembleInto(
  tx: Transaction, status: number, statusText: string, headers: HeaderList, parts: AsyncIterable<EsiNode[]>, coding: ContentCoding | undefined,
): Promise<Next> {
  const { ctx } = tx
  const settings = ctx.config.esi
  const esi: EsiRequestContext = tx.esi ?? rootEsiContext(tx)
  const isPage = tx.esi === undefined
  const view = { headers: tx.clientView?.headers ?? tx.request.headers, url: tx.clientView?.path ?? tx.request.path }
  const fallback = settings.onError === 'comment' ? Buffer.from('<!-- esi:include failed -->') : Buffer.alloc(0)
  const fetch = async (url: string): Promise<Buffer | undefined> => {
    if (url === FALLBACK_URL) {
      ctx.observer.values.esiErrors++
      ctx.log('info', 'an ESI include failed outside any esi:try; esi.onError left it out', { page: tx.request.path, onError: settings.onError })
      return fallback
    }
    const result = await fetchFragment(tx, esi, url)
    if (!result.isOk) throw new Error(result.reason)
    return result.body
  }

  // ── assemble: each part's includes start as soon as the part is parsed; output stays in order
  type Part = { gen: AsyncGenerator<Buffer, void, undefined>; first: Promise<IteratorResult<Buffer, void>> }
  const queue: Part[] = []
  let isParsed = false
  let partsError: unknown
  let wake: (() => void) | undefined
  const warnings: EsiPlan['warnings'] = []
  let isStopped = false
  // a passed page nobody reads any more stops being fetched
  const busy = tx.object ? undefined : tx.busy
  if (busy && !tx.head!.isStored && !tx.head!.isShareable) tx.sink.onClose(() => { if (!isParsed) busy.cancel?.() })
  void (async () => {
    try {
      for await (const nodes of parts) {
        if (isStopped) break
        const plan = buildPlan(nodes, view, { templateUrl: tx.request.path, escapeVars: settings.escapeVars })
        warnings.push(...plan.warnings)
        if (settings.onError !== 'abort') addFallbacks(plan.items, false)
        const gen = assemble(plan, fetch)
        const first = gen.next()
        first.catch(() => {}) // read in order below; a failure is handled there
        queue.push({ gen, first })
        wake?.()
        if (tx.sink.isClosed || isStopped) break
      }
    } catch (err) {
      partsError = err
    }
    isParsed = true
    wake?.()
  })()

  const out = new Output(tx, status, statusText, headers, coding)
  let state: EsiDeliveryState = 'assemble'
  let failure: unknown
  try {
    for (;;) {
      const part = queue.shift()
      if (!part) {
        if (partsError) throw partsError
        if (isParsed) break
        await new Promise<void>((resolve) => { wake = resolve })
        wake = undefined
        continue
      }
      let next = await part.first
      while (!next.done) {
        out.write(next.value)
        if (tx.sink.isClosed) break
        next = await part.gen.next()
      }
      if (tx.sink.isClosed) break
    }
    await out.end()
    state = 'complete'
  } catch (err) {
    failure = err
    state = out.isStarted ? 'aborted' : 'failed'
  }
  isStopped = true
  if (warnings.length) ctx.log('info', 'ESI warnings at delivery', { path: tx.request.path, first: warnings.slice(0, 5).map((w) => `${w.code}: ${w.message}`) })
  if (isPage) recordEsiPage(ctx, { url: `${tx.request.host}${tx.request.path}`, at: Date.now(), cacheStatus: tx.cacheStatus, state, fragments: esi.fragments })
  if (state === 'complete') return 'finish'
  const error = failure instanceof LacquerError ? failure : new LacquerError('ERR_ESI_INCLUDE_FAILED', String((failure as Error)?.message ?? failure))
  if (error.code === 'ERR_ESI_INCLUDE_FAILED') ctx.observer.values.esiErrors++
  ctx.log('warn', state === 'aborted' ? 'ESI page failed after its head was sent: the response is aborted' : 'ESI page failed: answered with an error',
    { path: tx.request.path, code: error.code, error: (error as EsiIncludeError).reasons?.join('; ') ?? error.message })
  if (state === 'aborted') {
    out.abort()
    return 'finish'
  }
  tx.synthetic = { status: error.statusCode, reason: error.message, error }
  return 'synth'
}

/** The page's bytes to the client: the head when the first byte is ready, compressed per client, flushed when idle. */
class Output {
  isStarted = false
  private readonly compressor?: Transform
  private readonly flushKind: number = 0
  private flushScheduled = false

  constructor(
    private readonly tx: Transaction, private readonly status: number, private readonly statusText: string,
    private readonly headers: HeaderList, coding: ContentCoding | undefined,
  ) {
    if (coding) {
      this.compressor = coding === 'br'
        // a page is compressed while it streams: quality 4 is about gzip's speed, and smaller
        ? createBrotliCompress({ params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4 } })
        : createGzip()
      this.flushKind = coding === 'br' ? zlibConstants.BROTLI_OPERATION_FLUSH : zlibConstants.Z_SYNC_FLUSH
      this.compressor.on('data', (chunk: Buffer) => tx.sink.write(chunk))
      this.compressor.on('error', () => tx.sink.abort())
    }
  }

  private start(): void {
    if (this.isStarted) return
    this.isStarted = true
    this.tx.sink.start(this.status, this.statusText, this.headers)
  }

  write(bytes: Buffer): void {
    if (bytes.length === 0) return
    this.start()
    if (!this.compressor) { this.tx.sink.write(bytes); return }
    this.compressor.write(bytes)
    // pieces ready together go out in one flush; a piece followed by a wait goes out at once
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => {
        this.flushScheduled = false
        if (!this.compressor!.destroyed && !this.compressor!.writableEnded) {
          (this.compressor as Transform & { flush(kind: number): void }).flush(this.flushKind)
        }
      })
    }
  }

  end(): Promise<void> {
    this.start()
    const compressor = this.compressor
    if (!compressor) { this.tx.sink.end(); return Promise.resolve() }
    return new Promise<void>((resolve, reject) => {
      compressor.once('end', () => { this.tx.sink.end(); resolve() })
      compressor.once('error', reject)
      compressor.end()
    })
  }

  abort(): void {
    this.compressor?.destroy()
    this.tx.sink.abort()
  }
}

export type { EsiPlan }
