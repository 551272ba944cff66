/**
 * @module fsm/deliver
 * deliver — writes the response: a stored object (with Age, a 304 for a matching client
 * conditional, a 206 for a single range) or a fetched one streamed as it arrives.
 * Policy's deliver hook may edit the response's fields or replace it (synth).
 * Exits: finish, synth.
 */
import cluster from 'node:cluster'
import { NOT_MODIFIED_FIELDS, hasClientConditional, isNotModified } from '../http-cache/conditional.js'
import { ageHeaderValue } from '../http-cache/freshness.js'
import { type HeaderList, applyEdits, getAll, has, removeHeader, setHeader } from '../http-cache/header-list.js'
import { formatHttpDate } from '../http-cache/http-date.js'
import { resolveRange } from '../http-cache/range.js'
import { formatCacheStatus } from '../observe/cache-status.js'
import type { BodySink, BusyEntry } from '../fetch/busy-entry.js'
import { deliverEsi } from '../esi/deliver.js'
import type { Next, Step } from './steps.js'
import type { Transaction } from './transaction.js'
import { surrogateDirectives } from '../esi/surrogate.js'
import { INVALID_VALUE, type PreparedHead, prepareHead } from '../http/h1-head.js'
import { deliverRuleEdits } from '../policy/builtin.js'
import type { StoredObject } from '../store/types.js'

export const deliver: Step = {
  name: 'deliver',
  exits: ['finish', 'synth'],
  run(tx) {
    // an ESI page (stored parsed, or parsed as it arrives) is assembled per request: esi/deliver
    if (tx.object ? tx.object.esi : tx.head?.esi) return deliverEsi(tx, { hideTags, wantsSynth, addProxyFields })
    return tx.object ? deliverObject(tx) : deliverStream(tx)
  },
}

/** With `--workers N`: the cluster id of this worker (a restarted worker gets a new one), shown beside Lacquer-Trace. */
const WORKER_ID = cluster.worker ? String(cluster.worker.id) : undefined

/** Via (RFC 9110 §7.6.3) and Cache-Status (RFC 9211 §2: ours is the last member). */
export function addProxyFields(tx: Transaction, headers: HeaderList): void {
  const ours = `1.1 ${tx.ctx.config.name}`
  const status = formatCacheStatus(tx.cacheStatus)
  // one scan: most responses carry neither field, and get both at the end
  let via: string | undefined
  let upstream: string | undefined
  for (const [name, value] of headers) {
    if (name === 'via') via = via === undefined ? value : `${via}, ${value}`
    else if (name === 'cache-status') upstream = upstream === undefined ? value : `${upstream}, ${value}`
  }
  if (via === undefined) headers.push(['via', ours])
  else setHeader(headers, 'via', `${via}, ${ours}`)
  if (upstream === undefined) headers.push(['cache-status', status])
  else setHeader(headers, 'cache-status', `${upstream}, ${status}`)
  if (tx.showsTrace) {
    // a trusted caller's Lacquer-Debug: trace — the states so far and the key (parts on one line)
    setHeader(headers, 'lacquer-trace', `${tx.id} ${[...tx.trace, 'finish'].join(' ')}`)
    if (tx.key) setHeader(headers, 'lacquer-key', tx.key.replace(/\n/g, ' | '))
    if (WORKER_ID) setHeader(headers, 'lacquer-worker', WORKER_ID)
  }
}

/**
 * Fields meant for Lacquer, not the client: a Surrogate-Control with directives for Lacquer
 * (untargeted or `;lacquer`: Edge Architecture §3, a surrogate removes what is addressed to it;
 * one only for other devices is passed on); surrogate keys (invalidate/tags.ts) unless a
 * trusted caller asked to see them.
 */
function hideTags(tx: Transaction, headers: HeaderList): void {
  const names = tx.ctx.config.invalidation.tagHeaders
  // parsed only when the field is there: a plain hit pays one scan
  let isOurs: boolean | undefined
  for (let i = headers.length - 1; i >= 0; i--) {
    const name = headers[i]![0]
    if (name === 'surrogate-control') isOurs ??= surrogateDirectives(headers).size > 0
    if ((name === 'surrogate-control' && isOurs) || (!tx.showsTags && names.has(name))) headers.splice(i, 1)
  }
}

/** Asks policy about the response; applies its edits; true when it wants a synthetic answer instead. */
function wantsSynth(tx: Transaction, status: number, headers: HeaderList): boolean {
  const { policy } = tx.ctx
  // the built-in hook only hands back the rule's edits: known by identity, applied without the call
  if (policy.deliver === deliverRuleEdits) {
    applyEdits(headers, tx.request.rule?.responseHeaders)
    return false
  }
  const action = policy.deliver(tx.request, { status, headers })
  if (action.action === 'synth') {
    tx.synthetic = { status: action.status, reason: action.reason }
    return true
  }
  applyEdits(headers, action.edits)
  return false
}

function notModified(tx: Transaction, headers: HeaderList): Next {
  const out: HeaderList = headers.filter(([name]) => NOT_MODIFIED_FIELDS.has(name) || name === 'age')
  addProxyFields(tx, out)
  tx.sink.send(304, 'Not Modified', out, undefined)
  return 'finish'
}

function canAnswerConditional(tx: Transaction, status: number): boolean {
  const { method } = tx.request
  return (method === 'GET' || method === 'HEAD') && status === 200 && hasClientConditional(tx.request.headers)
}

function deliverObject(tx: Transaction): Next {
  const object = tx.object!
  const now = Date.now()
  const isNotModifiedHit = canAnswerConditional(tx, object.status) && isNotModified(tx.request.headers, object.headers, object.storedAt)
  if (!isNotModifiedHit && tx.sink.sendPrepared && isPlainHit(tx, object)) {
    const prepared = preparedFor(tx, object)
    if (prepared) return sendPrepared(tx, object, prepared, now)
  }
  const headers: HeaderList = object.headers.map(([k, v]) => [k, v])
  hideTags(tx, headers)
  // RFC 9111 §4: a stored response is sent with its current age (§5.1)
  setHeader(headers, 'age', ageHeaderValue(object.freshness, now))
  if (isNotModifiedHit) return notModified(tx, headers)
  let body = object.body
  let status = object.status
  let statusText = object.statusText
  if (object.status === 200 && tx.request.method === 'GET') {
    const range = resolveRange(tx.request.headers, object.headers, body.length)
    if (range.kind === 'partial') {
      status = 206
      statusText = 'Partial Content'
      setHeader(headers, 'content-range', `bytes ${range.start}-${range.end}/${body.length}`)
      body = body.subarray(range.start, range.end + 1)
    } else if (range.kind === 'unsatisfiable') {
      status = 416
      statusText = 'Range Not Satisfiable'
      setHeader(headers, 'content-range', `bytes */${body.length}`)
      body = Buffer.alloc(0)
    }
  }
  if (status === 204 || status === 304) removeHeader(headers, 'content-length')
  else setHeader(headers, 'content-length', String(body.length))
  if (wantsSynth(tx, status, headers)) return 'synth'
  addProxyFields(tx, headers)
  tx.sink.send(status, statusText, headers, tx.request.method === 'HEAD' ? undefined : body)
  return 'finish'
}

/**
 * What a stored object's responses share, derived once and kept with the object (RFC 9111 §4:
 * a stored response is sent with its own fields): the status line and fields as sent — tags
 * hidden, Content-Length, Via — serialised and checked (http/h1-head.ts), and the Cache-Status
 * members of caches before us. Each hit adds its Age and its own Cache-Status member.
 */
export interface PreparedObject {
  /** what it was made from: remade when the object's fields change (a 304 merge) or the config is reloaded */
  readonly headers: HeaderList
  readonly status: number
  readonly config: object
  readonly head: PreparedHead
  /** `cache-status: ` and the upstream members with a trailing `, ` */
  readonly cacheStatusStart: string
  /** what it holds in memory, as counted by the store (accountDerived) */
  readonly bytes: number
}

/** Bytes a prepared head holds beyond its text: the two objects and the string's header (V8, 64-bit). */
const PREPARED_OVERHEAD = 128

/**
 * A hit that is sent as stored: no client conditional to answer (or not a matching one), no
 * range, no field to show (trusted debug callers) or edit (a user deliver hook, a rule's
 * response headers), a status with a body.
 */
function isPlainHit(tx: Transaction, object: StoredObject): boolean {
  const { request, ctx } = tx
  return !tx.showsTags && !tx.showsTrace && ctx.policy.deliver === deliverRuleEdits && request.rule?.responseHeaders === undefined
    && object.status >= 200 && object.status !== 204 && object.status !== 304 && !object.esi
    && (request.method === 'GET' || request.method === 'HEAD') && (object.status !== 200 || !has(request.headers, 'range'))
}

function preparedFor(tx: Transaction, object: StoredObject): PreparedObject | undefined {
  const known = object.prepared
  const { config } = tx.ctx
  if (known && known.headers === object.headers && known.status === object.status && known.config === config) return known
  const headers: HeaderList = object.headers.filter(([name]) => name !== 'age' && name !== 'content-length' && name !== 'cache-status' && name !== 'via')
  hideTags(tx, headers)
  headers.push(['content-length', String(object.body.length)])
  const via = getAll(object.headers, 'via')
  const ours = `1.1 ${config.name}`
  headers.push(['via', via.length ? `${via.join(', ')}, ${ours}` : ours])
  const head = prepareHead(object.status, object.statusText, headers)
  const upstream = getAll(object.headers, 'cache-status')
  const cacheStatusStart = upstream.length ? `cache-status: ${upstream.join(', ')}, ` : 'cache-status: '
  // a field a hit cannot send as it is: every hit takes the per-response path, which answers as it always did
  if (!head || INVALID_VALUE.test(cacheStatusStart)) return undefined
  const bytes = head.text.length + cacheStatusStart.length + PREPARED_OVERHEAD
  const prepared: PreparedObject = { headers: object.headers, status: object.status, config, head, cacheStatusStart, bytes }
  object.prepared = prepared
  // the store's bounds count what the object holds, this too (the one it replaces no longer)
  tx.ctx.store.accountDerived?.(object, bytes - (known?.bytes ?? 0))
  return prepared
}

/** The hit's own fields on the prepared head (RFC 9111 §5.1 Age, RFC 9211 Cache-Status), and its body unless HEAD. */
function sendPrepared(tx: Transaction, object: StoredObject, prepared: PreparedObject, now: number): Next {
  const fields = `age: ${ageHeaderValue(object.freshness, now)}\r\n${prepared.cacheStatusStart}${formatCacheStatus(tx.cacheStatus)}\r\n`
  tx.sink.sendPrepared!(object.status, prepared.head, fields, tx.request.method === 'HEAD' ? undefined : object.body)
  return 'finish'
}

/** Tells the fetch this client will not read its body: one nobody else can use stops being fetched (BusyEntry.unsubscribe). */
function leaveUnread(busy: BusyEntry): void {
  const nobody: BodySink = { onData() {}, onEnd() {}, onError() {} }
  busy.subscribe(nobody)
  busy.unsubscribe(nobody)
}

function deliverStream(tx: Transaction): Next | Promise<Next> {
  const head = tx.head!
  const busy = tx.busy!
  tx.originMs = head.originMs
  const isShared = head.isStored || head.isShareable
  // a response for this client alone (a pass, an answer neither stored nor shared) is edited
  // where it is; one the store or other clients read is copied first
  const headers: HeaderList = isShared ? head.headers.map(([k, v]) => [k, v]) : head.headers
  hideTags(tx, headers)
  if (isShared) setHeader(headers, 'age', ageHeaderValue(head.freshness, Date.now()))
  // RFC 9110 §6.6.1: a recipient with a clock adds Date when the origin sent none
  if (!has(headers, 'date')) headers.push(['date', formatHttpDate(Date.now())])
  // RFC 9111 §4.3.2: a lookup's fetch held the client's conditionals back, so Lacquer answers
  // them itself (RFC 9110 §13.2.1) — also when the answer turns out to be this client's alone
  // (private, hit-for-miss), unless it sets a cookie a 304 would not carry; a pass forwarded
  // them and the origin has answered
  if (canAnswerConditional(tx, head.status) && (isShared || (!tx.trace.includes('pass') && !has(headers, 'set-cookie')))
    && isNotModified(tx.request.headers, head.headers, head.freshness.responseAt)) {
    if (!isShared) leaveUnread(busy)
    return notModified(tx, headers)
  }
  const isSynth = !tx.sink.isClosed && wantsSynth(tx, head.status, headers)
  if (tx.sink.isClosed || isSynth) {
    // nobody will read this body: the client went away, or policy answers instead
    leaveUnread(busy)
    return isSynth ? 'synth' : 'finish'
  }
  addProxyFields(tx, headers)
  tx.sink.start(head.status, head.statusText, headers)
  if (tx.request.method === 'HEAD') {
    tx.sink.end()
    busy.subscribe({ onData() {}, onEnd() {}, onError() {} })
    return 'finish'
  }
  return new Promise<Next>((resolve) => {
    const sink: BodySink = {
      onData: (chunk) => tx.sink.write(chunk),
      onEnd: () => { tx.sink.end(); resolve('finish') },
      onError: () => { tx.sink.abort(); resolve('finish') },
    }
    tx.sink.onClose(() => { busy.unsubscribe(sink); resolve('finish') })
    busy.subscribe(sink)
  })
}
