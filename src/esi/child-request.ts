/**
 * @module esi/child-request
 * An ESI include is a child request: a new Transaction entering the client state machine at
 * `recv` (fsm/run), with a sink that collects the body instead of a socket. So each fragment
 * is matched against the rules, keyed, looked up, coalesced, fetched, stored or passed by its
 * own headers and rules, exactly as if a client had asked for it: shared, per user (a
 * `perUser` rule keys it by the user's session), or never cached.
 *
 * What a fragment request carries: the client's own header fields as they arrived (before the
 * page's recv edits: a `cache` rule removes the cookie from the page's request, not from its
 * fragments), without the fields that only made sense for the page (conditionals, Range,
 * framing, Accept-Encoding — fragments are fetched identity and the page is compressed as a
 * whole). The client's Cookie and Authorization go only to the page's own host and the hosts
 * listed in `esi.hosts` (the origin set: they are served by the same origin); an absolute
 * include URL naming any other host is refused (the include fails: alt, onerror, try apply),
 * since Lacquer is not an open proxy and has one origin.
 *
 * Limits (docs/esi.md): depth (`esi.maxDepth`: the page is 0, its includes 1…), includes per
 * client request (`esi.maxIncludes`, nested ones counted, every URL tried counts), a loop (a
 * fragment that includes itself or one of the documents it is inside) and the per-include
 * timeout (`esi.includeTimeout`) each make the include fail. A fragment fails when its status
 * is not 2xx or its body did not arrive whole: its body is then never written into the page.
 */
import { promisify } from 'node:util'
import { brotliDecompress, gunzip, inflate } from 'node:zlib'
import type { HeaderList } from '../http-cache/header-list.js'
import { getAll, getFirst } from '../http-cache/header-list.js'
import { runTransaction } from '../fsm/run.js'
import { type ClientSink, Transaction } from '../fsm/transaction.js'

/** One fragment fetched for a client request, for logs and the admin port's /esi report. */
export interface FragmentReport {
  url: string
  /** 1 for the page's own includes, 2 for theirs… */
  depth: number
  /** the fragment's status (0 when refused or cut short) */
  status: number
  /** the fragment's own Cache-Status member (hit, fwd=…, stored, detail) */
  cacheStatus: string
  ms: number
  isOk: boolean
  reason?: string
}

/** What a child request knows of the documents above it. */
export interface EsiRequestContext {
  /** the page is 0; its includes are 1 */
  readonly depth: number
  /** host + path of the page and of each fragment above this one (loops) */
  readonly ancestors: readonly string[]
  /** includes left for the whole client request (shared by every level) */
  readonly budget: { remaining: number }
  /** every fragment of the client request, nested ones too */
  readonly fragments: FragmentReport[]
}

export type FragmentResult = { isOk: true; body: Buffer } | { isOk: false; reason: string }

/** Fields a fragment request never inherits from the page's request. */
const NOT_INHERITED = new Set([
  'host', 'content-length', 'content-type', 'transfer-encoding', 'expect', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer',
  'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range', 'accept-encoding',
  'surrogate-capability',
])

/** Lower-case host with the scheme's default port dropped. */
function normalHost(host: string, scheme: 'http' | 'https'): string {
  const h = host.toLowerCase()
  return (scheme === 'http' && h.endsWith(':80')) ? h.slice(0, -3) : (scheme === 'https' && h.endsWith(':443')) ? h.slice(0, -4) : h
}

export function rootEsiContext(tx: Transaction): EsiRequestContext {
  return {
    depth: 0,
    ancestors: [`${normalHost(tx.request.host, tx.request.scheme)}${tx.request.path}`],
    budget: { remaining: tx.ctx.config.esi.maxIncludes },
    fragments: [],
  }
}

/** A ClientSink that keeps the response (head and body) in memory, up to a size limit. */
export class CollectingSink implements ClientSink {
  status = 0
  bytesSent = 0
  headers: HeaderList = []
  isComplete = false
  private chunks: Buffer[] = []
  private closed = false
  private readonly closeListeners: Array<() => void> = []
  private settle!: () => void
  readonly done = new Promise<void>((resolve) => { this.settle = resolve })

  constructor(private readonly maxBytes: number) {}

  get isClosed(): boolean { return this.closed }
  get body(): Buffer { return Buffer.concat(this.chunks) }

  send(status: number, _statusText: string, headers: HeaderList, body: Buffer | undefined): void {
    if (this.closed) return
    this.status = status
    this.headers = headers
    if (body) this.write(body)
    this.end()
  }

  start(status: number, _statusText: string, headers: HeaderList): void {
    if (this.closed) return
    this.status = status
    this.headers = headers
  }

  write(chunk: Buffer): void {
    if (this.closed) return
    this.bytesSent += chunk.length
    if (this.bytesSent > this.maxBytes) { this.abort(); return }
    this.chunks.push(chunk)
  }

  end(): void {
    if (this.closed) return
    this.isComplete = true
    this.close()
  }

  abort(): void {
    if (this.closed) return
    this.chunks = []
    this.close()
  }

  informational(): void {}

  onClose(listener: () => void): void {
    if (this.closed) listener()
    else this.closeListeners.push(listener)
  }

  private close(): void {
    this.closed = true
    this.settle()
    for (const listener of this.closeListeners.splice(0)) listener()
  }
}

const decoders = { gzip: promisify(gunzip), 'x-gzip': promisify(gunzip), br: promisify(brotliDecompress), deflate: promisify(inflate) }

/** The body as text for the page: a fragment stored compressed (an origin that compresses regardless) is decoded. */
async function decodedBody(sink: CollectingSink): Promise<Buffer | undefined> {
  const coding = getAll(sink.headers, 'content-encoding').join(',').trim().toLowerCase()
  if (coding === '' || coding === 'identity') return sink.body
  const decode = decoders[coding as keyof typeof decoders]
  if (!decode) return undefined
  try { return await decode(sink.body) } catch { return undefined }
}

/** Where an include URL goes: a path on the page's origin set, or refused. */
function targetOf(parent: Transaction, url: string): { scheme: 'http' | 'https'; host: string; path: string; isOtherHost: boolean } | { refused: string } {
  if (url.startsWith('/')) return { scheme: parent.request.scheme, host: parent.request.host, path: url, isOtherHost: false }
  let parsed: URL
  try { parsed = new URL(url) } catch { return { refused: `${url} is not a valid URL` } }
  const scheme = parsed.protocol === 'https:' ? 'https' : 'http'
  const host = normalHost(parsed.host, scheme)
  const isSameHost = host === normalHost(parent.request.host, parent.request.scheme)
  if (!isSameHost && !parent.ctx.config.esi.hosts.has(host)) {
    return { refused: `${parsed.host} is not the page's host nor listed in esi.hosts` }
  }
  return { scheme, host: parsed.host, path: parsed.pathname + parsed.search, isOtherHost: !isSameHost }
}

/**
 * Runs one include as a child request through the state machine and returns its body, or
 * why it failed. Never throws.
 */
export async function fetchFragment(parent: Transaction, esi: EsiRequestContext, url: string): Promise<FragmentResult> {
  const { ctx } = parent
  const settings = ctx.config.esi
  const startedAt = performance.now()
  const report: FragmentReport = { url, depth: esi.depth + 1, status: 0, cacheStatus: '', ms: 0, isOk: false }
  esi.fragments.push(report)
  const fail = (reason: string): FragmentResult => {
    report.reason = reason
    report.ms = Math.round(performance.now() - startedAt)
    ctx.observer.values.esiIncludes.error++
    return { isOk: false, reason }
  }
  const target = targetOf(parent, url)
  if ('refused' in target) return fail(target.refused)
  if (esi.depth + 1 > settings.maxDepth) return fail(`deeper than esi.maxDepth (${settings.maxDepth})`)
  const resource = `${normalHost(target.host, target.scheme)}${target.path}`
  if (esi.ancestors.includes(resource)) return fail('include loop: the fragment is one of the documents it is inside')
  if (esi.budget.remaining <= 0) return fail(`more includes than esi.maxIncludes (${settings.maxIncludes}) for this request`)
  esi.budget.remaining--

  const headers: HeaderList = [['host', target.host]]
  for (const [name, value] of parent.clientView?.headers ?? parent.request.headers) {
    if (NOT_INHERITED.has(name)) continue
    headers.push([name, value])
  }
  const sink = new CollectingSink(ctx.config.store.maxObjectBytes)
  const child = new Transaction(ctx, {
    method: 'GET', path: target.path, host: target.host, scheme: target.scheme, headers, clientAddress: parent.request.clientAddress,
  }, undefined, sink)
  child.esi = { depth: esi.depth + 1, ancestors: [...esi.ancestors, resource], budget: esi.budget, fragments: esi.fragments }
  let isTimedOut = false
  const timer = setTimeout(() => { isTimedOut = true; sink.abort() }, settings.includeTimeoutMs)
  runTransaction(child).catch((err) => {
    ctx.log('error', 'ESI child request failed', { url, error: (err as Error)?.stack ?? String(err) })
    sink.abort()
  })
  await sink.done
  clearTimeout(timer)
  report.status = sink.status
  report.cacheStatus = lastMember(getFirst(sink.headers, 'cache-status'))
  if (isTimedOut) return fail(`no whole answer within esi.includeTimeout (${settings.includeTimeoutMs} ms)`)
  if (!sink.isComplete) return fail('the fragment\'s response was cut short')
  if (sink.status < 200 || sink.status > 299) return fail(`the fragment answered ${sink.status}`)
  const body = await decodedBody(sink)
  if (!body) return fail('the fragment\'s content coding could not be decoded')
  report.isOk = true
  report.ms = Math.round(performance.now() - startedAt)
  ctx.observer.values.esiIncludes.ok++
  return { isOk: true, body }
}

function lastMember(value: string | undefined): string {
  if (!value) return ''
  const members = value.split(',')
  return members[members.length - 1]!.trim()
}
