/**
 * @module fetch/fetch-task
 * The origin-side state machine (Varnish's cache_fetch.c). One fetch per busy entry:
 *
 *   prepare ─▶ start ─┬─▶ revalidate ─▶ done      (304 on a stored response: headers merged)
 *                     ├─▶ body ─▶ end ─▶ done      (streamed to clients, tee'd to the store)
 *                     └─▶ error ─▶ done            (origin down, bad response, body cut short)
 *
 * Modes: `miss` (may store, other requests may join), `pass` (never stored, one client),
 * `background` (a refresh nobody waits for). A fetch is never retried.
 */
import type { Readable } from 'node:stream'
import type { ProxyContext } from '../context.js'
import { makeCacheKey } from '../context.js'
import { LacquerError } from '../errors.js'
import { parseCacheControl, parseCdnCacheControl } from '../http-cache/cache-control.js'
import { notModifiedSelects, validatorsFor } from '../http-cache/conditional.js'
import { type Freshness, computeFreshness, isFresh } from '../http-cache/freshness.js'
import { type HeaderList, type ReadonlyHeaderList, applyEdits, getAll, getFirst, has } from '../http-cache/header-list.js'
import { SAFE_METHODS, mergeHeaders, removeHopByHop, urisToInvalidate, withoutHopByHop } from '../http-cache/invalidation.js'
import { formatHttpDate } from '../http-cache/http-date.js'
import { parseVary, selectingValues } from '../http-cache/vary.js'
import type { CacheStatusDetail } from '../observe/cache-status.js'
import { type OriginResponse, classifyOriginError, isOriginSideError } from '../origin/origin-client.js'
import type { RequestView } from '../policy/types.js'
import { type ObjectHead, type StoreWriter, type StoredObject, resourceOfKey } from '../store/types.js'
import { collectTags } from '../invalidate/tags.js'
import { BusyEntry, type FetchedHead } from './busy-entry.js'
import { EsiFeed } from '../esi/feed.js'
import { consumeEsiBody } from '../esi/fetch-body.js'
import { type EsiActivation, SURROGATE_CAPABILITY, esiActivation, stripForEsi } from '../esi/surrogate.js'

export const FETCH_STATES = ['prepare', 'start', 'revalidate', 'body', 'end', 'error'] as const
export type FetchState = (typeof FETCH_STATES)[number]

/** Which fetch state may follow which: the source of the generated diagram. */
export const FETCH_EXITS: Record<FetchState, readonly (FetchState | 'done')[]> = {
  prepare: ['start'],
  start: ['revalidate', 'body', 'error'],
  revalidate: ['done'],
  body: ['end', 'error'],
  end: ['done'],
  error: ['done'],
}

export type FetchMode = 'miss' | 'pass' | 'background'

export interface FetchJob {
  mode: FetchMode
  key: string
  request: RequestView
  body?: Buffer | Readable
  /** a stored response to revalidate (RFC 9111 §4.3.1) */
  stale?: StoredObject
  /** the stored response is not to be revalidated (the origin's 304 selected none): asked for whole; `stale` stays for stale-if-error */
  withoutValidators?: boolean
  /** Cache-Status detail for a pass */
  passDetail?: CacheStatusDetail
  /** the store partition (one user's entries) of a per-user key */
  partition?: string
  /** forwards 1xx interim responses to the client that started the fetch (never stored) */
  onInformational?: (status: number, headers: HeaderList) => void
}

/** How long a stale response with validators is kept for revalidation after it expires. */
export const KEEP_FOR_REVALIDATION_MS = 3600_000
/**
 * How long a stale response is kept to be served while the origin is unreachable
 * (RFC 9111 §4.2.4 allows serving stale when disconnected, unless a directive forbids it).
 */
export const KEEP_FOR_ERRORS_MS = 600_000

/** Starts a fetch and returns its busy entry at once; the fetch runs on its own. */
export function startFetch(ctx: ProxyContext, job: FetchJob): BusyEntry {
  const busy = new BusyEntry(job.key, ctx.config.store.maxObjectBytes)
  busy.invalidationSeq = ctx.invalidator.seq
  void runFetch(ctx, job, busy)
  return busy
}

/** Request fields a fetch that may be stored never forwards: the client's own conditionals and ranges (RFC 9111 §4.3.2). */
const CLIENT_CONDITIONALS: ReadonlySet<string> = new Set(['if-none-match', 'if-modified-since', 'if-range', 'range', 'if-match', 'if-unmodified-since'])

/**
 * prepare: the origin request (Varnish mkbereq): hop-by-hop fields out, Via and X-Forwarded-* in.
 * One pass over the client's fields; the unchanged ones are shared with the client's list, not copied.
 */
export function prepareOriginHeaders(ctx: ProxyContext, job: FetchJob): HeaderList {
  const { request } = job
  const isLookup = job.mode !== 'pass'
  const isEsi = ctx.config.esi.isEnabled
  const out: HeaderList = []
  let via: string | undefined
  let forwardedFor: string | undefined
  let capability: string | undefined
  // admitRequest already took the hop-by-hop fields out; a policy edit may have put one back
  for (const field of withoutHopByHop(request.headers)) {
    const name = field[0]
    if (name === 'via') via = via === undefined ? field[1] : `${via}, ${field[1]}`
    else if (name === 'x-forwarded-for') forwardedFor = forwardedFor === undefined ? field[1] : `${forwardedFor}, ${field[1]}`
    else if (isEsi && name === 'surrogate-capability') capability = capability === undefined ? field[1] : `${capability}, ${field[1]}`
    // both are set from what the cache key uses, never taken from the client unchecked: an
    // unkeyed forwarded header is a cache-poisoning vector; RFC 7239's Forwarded says the same
    // and is just as unkeyed: replaced, never passed on
    else if (name === 'x-forwarded-proto' || name === 'x-forwarded-host' || name === 'forwarded' || name === 'expect') continue
    // a fetch that may be stored asks for the whole, unconditional representation;
    // the client's own conditionals and ranges are answered from it (RFC 9111 §4.3.2)
    // the pair itself, shared with the client's list: an edit replaces a pair, never changes one
    else if (!isLookup || !CLIENT_CONDITIONALS.has(name)) out.push(field as [string, string])
  }
  if (job.stale && !job.withoutValidators) out.push(...validatorsFor(job.stale.headers))
  // RFC 9110 §7.6.3: Via lists each proxy the request went through, ours last
  const ours = `1.1 ${ctx.config.name}`
  out.push(['via', via === undefined ? ours : `${via}, ${ours}`])
  const client = request.clientAddress
  out.push(['x-forwarded-for', forwardedFor === undefined ? client : `${forwardedFor}, ${client}`])
  out.push(['x-forwarded-proto', request.scheme])
  out.push(['x-forwarded-host', request.host])
  const forClient = client.includes(':') ? `"[${client}]"` : client || 'unknown'
  const host = request.host.includes('"') || request.host.includes('\\') ? request.host.replace(/["\\]/g, '') : request.host
  out.push(['forwarded', `for=${forClient};host="${host}";proto=${request.scheme}`])
  // Edge Architecture Specification §2.2: tell the origin Lacquer processes ESI
  if (isEsi) out.push(['surrogate-capability', capability === undefined ? SURROGATE_CAPABILITY : `${capability}, ${SURROGATE_CAPABILITY}`])
  return out
}

function removeAll(headers: HeaderList, name: string): void {
  for (let i = headers.length - 1; i >= 0; i--) if (headers[i]![0] === name) headers.splice(i, 1)
}

function parseContentLength(headers: ReadonlyHeaderList): number | undefined {
  const value = getFirst(headers, 'content-length')
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined
}

async function runFetch(ctx: ProxyContext, job: FetchJob, busy: BusyEntry): Promise<void> {
  const { request } = job
  // ── prepare
  const headers = prepareOriginHeaders(ctx, job)
  applyEdits(headers, ctx.policy.backendRequest(request).edits)
  const requestAt = Date.now()
  const requestAtHr = performance.now()
  ctx.counters.originRequests++
  // ── start
  let res
  try {
    res = await ctx.origin.request({
      method: request.method, path: request.path, headers, body: job.body, onInformational: job.onInformational, key: job.key,
    })
  } catch (err) {
    const body = job.body as (Readable & { complete?: boolean }) | undefined
    if (body && !isOriginSideError(err) && (body.errored || body.complete === false) && body.destroyed) {
      // the client's request body broke off: the client's fault, not the origin's
      busy.fail(new LacquerError('ERR_HTTP_BAD_REQUEST', 'the request body ended early', { cause: err }))
      releaseBusy(ctx, busy)
      return
    }
    ctx.observer.fetch(job.mode, false, performance.now() - requestAtHr)
    return fetchError(ctx, job, busy, classifyOriginError(err))
  }
  const responseAt = Date.now()
  const originMs = performance.now() - requestAtHr
  ctx.observer.fetch(job.mode, true, originMs)
  // the list was made for this fetch (origin/origin-client): edited where it is
  const received = removeHopByHop(res.headers)
  // RFC 9110 §6.6.1: a recipient with a clock adds the Date it received a response at when the
  // origin sent none; stored with it, so every later hit repeats the same Date
  if (!has(received, 'date')) received.push(['date', formatHttpDate(responseAt)])
  // RFC 9110 §8.6: no Content-Length on 1xx and 204 (a client trusting it would lose the framing)
  if (res.status === 204 || res.status < 200) removeAll(received, 'content-length')
  const isBodyless = request.method === 'HEAD' || res.status === 204 || res.status === 304 || res.status < 200

  // RFC 9111 §4.4: a successful unsafe request invalidates what it names
  // (every user's entry and both schemes of each URI: resourceOfKey)
  if (!SAFE_METHODS.has(request.method)) {
    for (const path of urisToInvalidate(request.method, res.status, request.path, request.host, received, request.scheme)) {
      await ctx.store.invalidateResource(resourceOfKey(makeCacheKey(request.scheme, request.host, path)), 'hard')
    }
  }

  // RFC 9111 §4.3.4: a 304 whose validators select no stored response cannot update ours, and
  // the client asked nothing conditional (§4.3.2: its conditionals are answered from the
  // store): asked again once, without validators, for the whole response
  if (job.stale && !job.withoutValidators && res.status === 304 && !notModifiedSelects(received, job.stale.headers)) {
    res.body.resume()
    ctx.log('warn', 'the origin answered 304 with validators that select no stored response; asked again without them', { key: job.key })
    return runFetch(ctx, { ...job, withoutValidators: true }, busy)
  }
  // ── revalidate: a 304 for the stored response we asked about (RFC 9111 §4.3.4)
  if (job.stale && !job.withoutValidators && res.status === 304 && notModifiedSelects(received, job.stale.headers)) {
    res.body.resume()
    const merged = mergeHeaders(job.stale.headers, received)
    if (job.stale.esi) stripForEsi(merged)
    const { cc, isTargeted } = effectiveDirectives(merged)
    const freshness = computeFreshness(job.stale.status, merged, cc, isTargeted, requestAt, responseAt)
    ctx.counters.revalidations++
    // the updated response goes through the same policy as a new one: a 304 that sets a
    // cookie or turns private belongs to this client alone and must not reach the store
    const action = ctx.policy.backendResponse({ status: job.stale.status, headers: merged, cc, isTargeted, request })
    // a purge issued while the 304 was on its way wins: the stored copy stays purged
    const isStorable = action.action === 'store' && !ctx.invalidator.affectsFetch(busy.invalidationSeq, job.key, job.stale.tags)
    if (isStorable) applyConfiguredTtl(freshness, action.ttlMs)
    const graceMs = isStorable ? action.graceMs : undefined
    const updated = {
      headers: merged, cc, isTargeted, freshness, status: job.stale.status, statusText: job.stale.statusText, graceMs,
      deleteAt: deleteAtFor(freshness, cc, merged, graceMs, isStorable ? action.keepMs : undefined),
    }
    // the tags follow the updated fields (a 304 may carry new Surrogate-Key values)
    const tags = isStorable
      ? [...new Set([...collectTags(merged, ctx.config.invalidation.tagHeaders, undefined).tags, ...(action.tags ?? [])])]
      : job.stale.tags
    if (isStorable) await ctx.store.update(job.stale, { ...updated, softPurgedAt: undefined, tags })
    const revalidated: StoredObject = isStorable ? job.stale : { ...job.stale, ...updated }
    busy.setHead({
      status: job.stale.status, statusText: job.stale.statusText, originStatus: res.status, headers: merged, cc, freshness,
      vary: job.stale.varyNames, varyValues: job.stale.varyValues,
      isShareable: isStorable && isFresh(freshness, responseAt) && !cc.noCache, isStored: isStorable, revalidated, originMs,
      detail: action.action === 'dontStore' ? action.detail : undefined,
    })
    releaseBusy(ctx, busy)
    return
  }

  // ── decide: processed as ESI? (esi/surrogate: only a response that asked)
  const esi = esiActivation(ctx, request, received, !isBodyless)
  if (esi) stripForEsi(received)
  // ── decide: stored? shared with coalesced waiters? A pass is neither: its one client reads it
  let fetched: FetchedHead
  let writer: StoreWriter | undefined
  let head: ObjectHead | undefined
  if (job.mode === 'pass') {
    fetched = {
      status: res.status, statusText: res.statusText, originStatus: res.status, headers: received, freshness: notStored(responseAt),
      vary: NO_VARY, varyValues: NO_VARY, isShareable: false, isStored: false, detail: job.passDetail, originMs, esi: esi && new EsiFeed(),
    }
  } else {
    ({ fetched, writer, head } = decideStorage(ctx, job, busy, res, received, esi, requestAt, responseAt, originMs))
  }
  const { isShareable, tags } = fetched
  busy.cancel = () => res.body.destroy(CLIENTS_GONE)
  busy.setHead(fetched)
  if (!isShareable) releaseBusy(ctx, busy)

  // ── body: tee every chunk to the clients and the store
  try {
    if (isBodyless) {
      res.body.resume()
    } else if (esi) {
      writer = await consumeEsiBody(ctx, job.key, res.body.toReadable(), esi, fetched.esi!, writer)
    } else {
      // the clients waiting for the head subscribe first (microtasks): a shared body over the
      // replay limit is not kept for them (fetch/busy-entry.ts)
      if (isShareable) await new Promise(setImmediate)
      await res.body.consume((chunk) => {
        busy.push(chunk)
        if (writer && !writer.write(chunk)) writer = undefined
      })
    }
  } catch (err) {
    writer?.abort()
    if (err === CLIENTS_GONE) {
      // the fetch was given up by Lacquer (every client left and nothing is stored): not the origin's failure
      ctx.log('debug', 'origin fetch cancelled: every client left before the body was whole', { key: job.key, method: job.request.method, mode: job.mode })
      busy.fail(new LacquerError('ERR_ORIGIN_INCOMPLETE_BODY', CLIENTS_GONE.message))
      return releaseBusy(ctx, busy)
    }
    const error = err instanceof LacquerError && err.code === 'ERR_ESI_TOO_LARGE' ? err : bodyError(err)
    fetched.esi?.fail(error)
    return fetchError(ctx, job, busy, error)
  }
  // ── end: commit to the store before the entry stops accepting joiners, so no gap opens;
  // unless a purge issued since the fetch began matches it (its content may be what was purged)
  if (writer && ctx.invalidator.affectsFetch(busy.invalidationSeq, job.key, tags)) {
    writer.abort()
    ctx.log('info', 'a response purged while in flight was delivered but not stored', { key: job.key })
  } else if (writer) {
    head!.invalidationSeq = ctx.invalidator.seq
    await writer.end()
  }
  fetched.esi?.end()
  busy.finish()
  releaseBusy(ctx, busy)
}

/** decide, for a fetch that may be stored: RFC 9111 §3 and policy's backendResponse say whether it is stored, and whether waiters may share it. */
function decideStorage(
  ctx: ProxyContext, job: FetchJob, busy: BusyEntry, res: OriginResponse, received: HeaderList, esi: EsiActivation | undefined,
  requestAt: number, responseAt: number, originMs: number,
): { fetched: FetchedHead; writer: StoreWriter | undefined; head: ObjectHead | undefined } {
  const { request } = job
  const { cc, isTargeted } = effectiveDirectives(received)
  const freshness = computeFreshness(res.status, received, cc, isTargeted, requestAt, responseAt)
  let vary = parseVary(received)
  // an ESI page is stored decoded and encoded per client at delivery: its coding does not select it
  if (esi && vary !== '*') vary = vary.filter((name) => name !== 'accept-encoding')
  const varyValues = vary === '*' ? [] : selectingValues(request.headers, vary)
  let isStored = false
  let isShareable = false
  let detail: CacheStatusDetail | undefined = job.passDetail
  let graceMs: number | undefined
  let keepMs: number | undefined
  let tags: readonly string[] = []
  {
    const collected = collectTags(received, ctx.config.invalidation.tagHeaders, undefined)
    if (collected.dropped) ctx.log('warn', 'origin response carries too many or too long tags; the extra ones are ignored', { key: job.key, dropped: collected.dropped })
    tags = collected.tags
    const action = ctx.policy.backendResponse({ status: res.status, headers: received, cc, isTargeted, request })
    if (action.action === 'store') {
      isStored = true
      isShareable = true
      for (const name of action.unset ?? []) removeAll(received, name)
      applyConfiguredTtl(freshness, action.ttlMs)
      graceMs = action.graceMs
      keepMs = action.keepMs
      if (action.tags?.length) tags = [...new Set([...tags, ...action.tags])]
    } else {
      detail = action.detail
      isShareable = action.isShareable
    }
  }
  const hasValidator = has(received, 'etag') || has(received, 'last-modified')
  if (isStored && freshness.lifetimeMs <= freshness.initialAgeMs && !hasValidator) {
    isStored = false
    detail = 'STALE-ON-ARRIVAL'
  }
  // waiters may only be handed a response that could be reused without validation
  if (isShareable && (!isFresh(freshness, responseAt) || cc.noCache)) isShareable = false
  const contentLength = parseContentLength(received)
  let writer: StoreWriter | undefined
  let head: ObjectHead | undefined
  if (isStored && vary !== '*') {
    head = {
      key: job.key, status: res.status, statusText: res.statusText, headers: received, varyNames: vary, varyValues,
      cc, isTargeted, freshness, deleteAt: deleteAtFor(freshness, cc, received, graceMs, keepMs), graceMs, tags, partition: job.partition,
      invalidationSeq: busy.invalidationSeq, ...(esi && { esi: true }),
    }
    writer = ctx.store.openWrite(head, contentLength)
    if (!writer) { isStored = false; detail = 'TOO-LARGE' }
  }
  const fetched: FetchedHead = {
    status: res.status, statusText: res.statusText, originStatus: res.status, headers: received, cc, freshness, vary, varyValues,
    isShareable, isStored, detail, tags, originMs, esi: esi && new EsiFeed(),
  }
  return { fetched, writer, head }
}

/** What a pass's head says of freshness: none (it is never stored, nor reused). */
function notStored(responseAt: number): Freshness {
  return { lifetimeMs: 0, initialAgeMs: 0, responseAt, source: 'none' }
}

const NO_VARY: readonly never[] = Object.freeze([])

/** A configured ttl replaces the lifetime from the headers: fresh for ttl from arrival. */
function applyConfiguredTtl(freshness: Freshness, ttlMs: number | undefined): void {
  if (ttlMs !== undefined) Object.assign(freshness, { lifetimeMs: freshness.initialAgeMs + ttlMs, source: 'config' })
}

/** The reason a fetch's body is destroyed when every client left and nothing is stored (busy.cancel). */
const CLIENTS_GONE = new Error('every client left before the body was whole; the origin request was cancelled')

function bodyError(err: unknown): LacquerError {
  const classified = classifyOriginError(err)
  // a timeout, or a response that breaks HTTP's framing (two different Content-Lengths, a bad
  // chunk), keeps its own code; anything else cutting the body short is an incomplete body
  return classified.code === 'ERR_ORIGIN_TIMEOUT' || classified.code === 'ERR_ORIGIN_BAD_RESPONSE' ? classified
    : new LacquerError('ERR_ORIGIN_INCOMPLETE_BODY', classified.message, { cause: err })
}

/** error: nothing stored; the clients get a 502/504, or an aborted response if the head was sent. */
function fetchError(ctx: ProxyContext, job: FetchJob, busy: BusyEntry, err: LacquerError): void {
  ctx.counters.originErrors++
  if (err.code === 'ERR_ORIGIN_INCOMPLETE_BODY') ctx.counters.incompleteBodies++
  ctx.log('warn', 'origin fetch failed', { code: err.code, key: job.key, method: job.request.method, mode: job.mode, error: err.message })
  busy.fail(err)
  releaseBusy(ctx, busy)
}

function releaseBusy(ctx: ProxyContext, busy: BusyEntry): void {
  if (ctx.busy.get(busy.key) === busy) ctx.busy.delete(busy.key)
}

/** RFC 9213 §2.1: a valid CDN-Cache-Control replaces Cache-Control for a CDN-like cache. */
export function effectiveDirectives(headers: ReadonlyHeaderList) {
  const targeted = parseCdnCacheControl(getAll(headers, 'cdn-cache-control'))
  return targeted
    ? { cc: targeted, isTargeted: true }
    : { cc: parseCacheControl(getAll(headers, 'cache-control')), isTargeted: false }
}

/** How long the store may keep an object: its freshness, plus stale windows, plus time to revalidate. */
export function deleteAtFor(
  freshness: Freshness, cc: { staleWhileRevalidate?: number; staleIfError?: number }, headers: ReadonlyHeaderList,
  graceMs?: number, keepMs?: number,
): number {
  const expiresAt = freshness.responseAt + freshness.lifetimeMs - freshness.initialAgeMs
  const staleWindowMs = Math.max(graceMs ?? 0, (cc.staleWhileRevalidate ?? 0) * 1000, (cc.staleIfError ?? 0) * 1000)
  const defaultKeepMs = has(headers, 'etag') || has(headers, 'last-modified') ? KEEP_FOR_REVALIDATION_MS : KEEP_FOR_ERRORS_MS
  return expiresAt + Math.max(staleWindowMs, keepMs ?? defaultKeepMs)
}
