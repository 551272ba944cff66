/**
 * @module esi/parser
 * The incremental ESI 1.0 parser (ESI Language Specification 1.0, W3C Note 2001, §3). It is fed
 * the body as it arrives, in chunks split at any byte, and builds a compact node tree: the
 * page is parsed once when it is stored and the tree is replayed per request by esi/plan.
 * Malformed ESI never throws: it yields warnings (esi/warnings) and a best-effort tree.
 *
 * API for the integrator:
 * ```ts
 * const parser = new EsiParser({ maxIncludes: 64 })
 * for await (const chunk of body) parser.write(chunk)   // returns top-level nodes completed so far
 * const doc = parser.end()                              // EsiDocument: { nodes, warnings, includeCount, isPlain }
 * // or, for a whole body: const doc = parseEsi(body)
 * const stored = encodeDocument(doc)  // Buffer, see esi/codec; decodeDocument(stored) gives it back
 * ```
 * `write()` returns the top-level nodes that became complete with that chunk (text may come in
 * several pieces; a `try`/`choose` comes whole when it closes); `parser.tail` holds what
 * `end()` completed. `end().nodes` is the whole document with adjacent text merged: it is
 * identical whatever the chunking.
 *
 * The tree (`EsiNode`, plain data except `Buffer` text; see esi/codec for bytes):
 * - `text` — bytes reproduced exactly (everything that is not ESI markup).
 * - `include` — §3.1: `src` and `alt` as templates (literal parts and variable references),
 *   `continueOnError` for `onerror="continue"`, the byte `offset` of the tag, and
 *   `isOverLimit` when it came after `maxIncludes` (it must fail without being fetched).
 * - `var` — a `$(…)` reference inside `esi:vars` (§3.7); only there are references read in text.
 * - `try` — §3.4: `attempt` and `except` node lists.
 * - `choose` — §3.3: `whens` (each with its parsed `test`, §5) and `otherwise`.
 * `esi:comment` (§3.5), `esi:remove` (§3.6) and the `<!--esi` / `-->` delimiters (§3.8)
 * leave nothing; `esi:vars` leaves its content, with `var` nodes for the references.
 *
 * Choices where the spec is silent (each reported with a warning except where noted):
 * - Anything starting `<esi:` or `</esi:` is ESI markup and never reaches the client; element
 *   and attribute names are case-sensitive lower-case (§3). Unknown elements: tags dropped,
 *   content kept. `esi:inline` (§3.2, optional): same. Other text, including `<esi` not
 *   followed by `:`, is text.
 * - A tag ends at the first `>` outside quotes (so `test="$(X) > 2"` works); if a quote is
 *   left open, at the first `>`; with no `>` within `maxTagBytes`, the `<` is text.
 * - Attribute values may be `"…"` or `'…'`; unquoted values are accepted. The XML entities
 *   `&amp; &lt; &gt; &quot; &apos;` and numeric references are decoded (pages write
 *   `src="/a?x=1&amp;y=2"`).
 * - Ordinary HTML comments `<!-- … -->` and `<![CDATA[ … ]]>` are opaque, as in Varnish: they
 *   are text and ESI inside them is not processed (a commented-out include stays inert).
 *   `<!--esi` must be followed by whitespace or `-->`; `<!--esinfo` is an ordinary comment.
 *   Inside `<!--esi`, an ordinary comment is skipped whole, so `<!--esi <!-- x --> -->`
 *   leaves ` <!-- x --> `. References inside an ordinary comment in `esi:vars` are not
 *   substituted either.
 * - `esi:remove` content is skipped to the first `</esi:remove>` (§3.6: no nested ESI). If the
 *   document ends first, the open tag is dropped and its content is parsed as if it were not
 *   there (rather than losing the rest of the page).
 * - `esi:include` and `esi:comment` without `/>`, or with an end tag, are accepted.
 * - An end tag closes the innermost open element of its name, closing the ones opened after
 *   it; an end tag with no open element of its name is dropped. Elements open at the end of
 *   the document are closed there (unclosed `<!--esi` too).
 * - `attempt` outside `try`: its content is kept as if the tags were not there. `except`
 *   outside `try`: dropped with its content (it is only for failures). `when` outside
 *   `choose`: a one-branch `choose`. `otherwise` outside `choose`: content kept.
 *   Non-whitespace content directly inside `try` or `choose` is dropped (§3.3, §3.4 forbid it).
 *   `try` without `except` has an empty `except`; a repeated `attempt`/`except`/`otherwise`:
 *   the first counts.
 * - `when` without `test`, or with a test that does not parse: the test is a parse error,
 *   false at delivery.
 * - Nesting deeper than `maxNestingDepth`: that element is dropped with its content.
 *   More includes than `maxIncludes`: kept with `isOverLimit` (they fail at delivery, so
 *   `alt`, `onerror` and `try` apply as for any failed include). Warnings beyond
 *   `maxWarnings` are counted in a final `too-many-warnings` warning.
 *
 * Cost: each byte is looked at a bounded number of times and plain text goes out in pieces
 * as large as the chunks, except that a tag or a `$(…)` reference split over many chunks is
 * re-scanned per chunk (bounded by `maxTagBytes`).
 */
import { parseExpression, type ParsedExpression } from './expression.js'
import { checkVariableRef, parseTemplate, scanVariableRef, type Template, type VariableRef } from './variables.js'
import { ESI_WARNINGS, type EsiWarning, type EsiWarningCode } from './warnings.js'

export interface EsiText { type: 'text'; bytes: Buffer }
export interface EsiVar { type: 'var'; ref: VariableRef }
export interface EsiInclude {
  type: 'include'
  src: Template
  alt?: Template
  /** `onerror="continue"` (§3.1). */
  continueOnError: boolean
  /** Byte offset of the tag in the document. */
  offset: number
  /** Beyond `maxIncludes`: must fail without being fetched. */
  isOverLimit?: boolean
}
export interface EsiTry { type: 'try'; attempt: EsiNode[]; except: EsiNode[]; offset: number }
export interface EsiWhen { test: ParsedExpression; children: EsiNode[]; offset: number }
export interface EsiChoose { type: 'choose'; whens: EsiWhen[]; otherwise?: EsiNode[]; offset: number }
export type EsiNode = EsiText | EsiVar | EsiInclude | EsiTry | EsiChoose

/** The parsed page: what is stored, and replayed per request by esi/plan. */
export interface EsiDocument {
  nodes: EsiNode[]
  warnings: EsiWarning[]
  /** Includes counted against `maxIncludes` (those inside dropped content are not). */
  includeCount: number
  /** True when the document holds no ESI instruction: one text node (or none). */
  isPlain: boolean
}

export interface EsiParserOptions {
  /** Deepest nesting of ESI elements (`try`, `attempt`, `choose`, `when`, `vars`, `<!--esi`…). Default 32. */
  maxNestingDepth?: number
  /** Most includes per document; later ones are refused (`isOverLimit`). Default 256. */
  maxIncludes?: number
  /** Longest ESI tag, attributes included, and longest `$(…)` reference, in bytes. Default 16384. */
  maxTagBytes?: number
  /** Most warnings listed; the rest are counted. Default 100. */
  maxWarnings?: number
}

export const ESI_PARSER_DEFAULTS: Required<EsiParserOptions> = {
  maxNestingDepth: 32,
  maxIncludes: 256,
  maxTagBytes: 16384,
  maxWarnings: 100,
}

// ---------------------------------------------------------------------------------------------
// internal tree building

interface TextAcc { type: 'acc'; pieces: Buffer[] }
interface Branch { type: 'branch'; kind: 'attempt' | 'except' | 'when' | 'otherwise'; children: EsiNode[]; offset: number; test?: ParsedExpression }
type Child = EsiNode | TextAcc | Branch

interface Sink { items: Child[]; isNull: boolean }

type FrameKind = 'root' | 'try' | 'attempt' | 'except' | 'choose' | 'when' | 'otherwise' | 'vars' | 'inline' | 'esi-comment'

interface Frame {
  kind: FrameKind
  offset: number
  sink: Sink
  /** Content goes to the enclosing element (vars, `<!--esi`, inline, misplaced attempt/otherwise). */
  isTransparent: boolean
  /** Content is dropped (too deep, misplaced except, inside either). */
  isDiscarding: boolean
  /** A `when` outside `choose`: closes into a one-branch `choose`. */
  isImplicitChoose?: boolean
  test?: ParsedExpression
}

const CONTAINERS = new Set<FrameKind>(['try', 'attempt', 'except', 'choose', 'when', 'otherwise', 'vars', 'inline'])
const ATTRIBUTES: Record<string, readonly string[]> = {
  include: ['src', 'alt', 'onerror'],
  comment: ['text'],
  remove: [],
  vars: [],
  try: [],
  attempt: [],
  except: [],
  choose: [],
  when: ['test'],
  otherwise: [],
  inline: ['name', 'fetchable'],
}

function pushText(items: Child[], bytes: Buffer): void {
  const last = items[items.length - 1]
  if (last?.type === 'acc') last.pieces.push(bytes)
  else items.push({ type: 'acc', pieces: [bytes] })
}

function finalize(items: Child[]): Array<EsiNode | Branch> {
  const out: Array<EsiNode | Branch> = []
  for (const item of items) {
    if (item.type !== 'acc') { out.push(item); continue }
    const bytes = item.pieces.length === 1 ? item.pieces[0]! : Buffer.concat(item.pieces)
    if (bytes.length > 0) out.push({ type: 'text', bytes })
  }
  return out
}

/** Node lists inside branches never hold branches (they are only appended to try/choose sinks). */
function nodesOf(items: Child[]): EsiNode[] {
  return finalize(items).filter((n): n is EsiNode => n.type !== 'branch')
}

function isWhitespace(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) return false
  return true
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }
/** XML predefined entities and character references (attribute values are XML, §3). */
export function decodeEntities(value: string): string {
  if (!value.includes('&')) return value
  return value.replace(/&(amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});/g, (whole, name: string) => {
    if (name[0] !== '#') return ENTITIES[name]!
    const code = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10)
    return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : whole
  })
}

// byte markers
const LT = 0x3c
const GT = 0x3e
const DOLLAR = 0x24
const M_ESI_START = Buffer.from('<esi:')
const M_ESI_END = Buffer.from('</esi:')
const M_ESI_COMMENT = Buffer.from('<!--esi')
const M_HTML_COMMENT = Buffer.from('<!--')
const M_CDATA = Buffer.from('<![CDATA[')
const COMMENT_END = Buffer.from('-->')
const CDATA_END = Buffer.from(']]>')
const REMOVE_END = Buffer.from('</esi:remove>')

type Match = 'yes' | 'no' | 'partial'
function matchAt(buf: Buffer, at: number, marker: Buffer): Match {
  const n = Math.min(marker.length, buf.length - at)
  for (let k = 0; k < n; k++) if (buf[at + k] !== marker[k]) return 'no'
  return n === marker.length ? 'yes' : 'partial'
}

const isSpaceByte = (b: number | undefined): boolean => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0c

// ---------------------------------------------------------------------------------------------

export class EsiParser {
  private readonly options: Required<EsiParserOptions>
  private pending: Buffer = Buffer.alloc(0)
  /** Absolute offset of `pending[0]` in the document. */
  private base = 0
  private mode: 'text' | 'opaque' | 'remove' = 'text'
  private opaqueEnd: Buffer = COMMENT_END
  private opaqueOffset = 0
  private removeOffset = 0
  private removeContentOffset = 0
  private removeChunks: Buffer[] = []
  private readonly rootSink: Sink = { items: [], isNull: false }
  private readonly stack: Frame[]
  private varsDepth = 0
  private commentDepth = 0
  private includeCount = 0
  private isOverLimitReported = false
  private readonly warnings: EsiWarning[] = []
  private suppressedWarnings = 0
  private batch: Child[] = []
  private document: EsiDocument | undefined
  /** The top-level nodes completed by `end()` that no `write()` returned. */
  tail: EsiNode[] = []

  constructor(options: EsiParserOptions = {}) {
    this.options = { ...ESI_PARSER_DEFAULTS, ...options }
    this.stack = [{ kind: 'root', offset: 0, sink: this.rootSink, isTransparent: false, isDiscarding: false }]
  }

  /** Feeds a chunk; returns the top-level nodes it completed. Never throws on any input. After `end()`, ignored. */
  write(chunk: Buffer | string): EsiNode[] {
    if (this.document) return []
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
    if (bytes.length === 0) return []
    this.pending = this.pending.length === 0 ? bytes : Buffer.concat([this.pending, bytes])
    this.run(false)
    return this.takeBatch()
  }

  /** Ends the input: closes what is open (with warnings) and returns the whole document. Idempotent. */
  end(): EsiDocument {
    if (this.document) return this.document
    this.run(true)
    while (this.stack.length > 1) {
      const top = this.stack[this.stack.length - 1]!
      this.warn('unclosed-element', `${describe(top.kind)} is not closed before the end of the document; closed there`, top.offset)
      this.close()
    }
    this.tail = this.takeBatch()
    if (this.suppressedWarnings > 0) {
      this.warnings.push({ code: 'too-many-warnings', message: `${this.suppressedWarnings} more warnings not listed (maxWarnings ${this.options.maxWarnings})`, offset: this.base })
    }
    const nodes = nodesOf(this.rootSink.items)
    this.document = {
      nodes,
      warnings: this.warnings,
      includeCount: this.includeCount,
      isPlain: nodes.length === 0 || (nodes.length === 1 && nodes[0]!.type === 'text'),
    }
    return this.document
  }

  private takeBatch(): EsiNode[] {
    const out = nodesOf(this.batch)
    this.batch = []
    return out
  }

  private warn(code: EsiWarningCode, message: string, offset: number): void {
    if (this.warnings.length >= this.options.maxWarnings) { this.suppressedWarnings++; return }
    this.warnings.push({ code, message, offset })
  }

  private top(): Frame { return this.stack[this.stack.length - 1]! }

  private appendText(bytes: Buffer): void {
    if (bytes.length === 0) return
    const sink = this.top().sink
    if (sink.isNull) return
    pushText(sink.items, bytes)
    if (sink === this.rootSink) pushText(this.batch, bytes)
  }

  private appendNode(node: EsiNode | Branch, sink: Sink = this.top().sink): void {
    if (sink.isNull) return
    sink.items.push(node)
    if (sink === this.rootSink) this.batch.push(node)
  }

  // ---- the scanner ---------------------------------------------------------------------------

  private run(isEnd: boolean): void {
    let buf = this.pending
    let pos = 0
    let textFrom = 0
    // Next `<`, `$`, `-->` at or after `pos` (-1: none in `buf`; -2: not looked for), kept so
    // that plain `<`s and `$`s do not make each search start over (linear time).
    let ltAt = -2
    let dollarAt = -2
    let commentEndAt = -2
    scan: while (pos < buf.length || (isEnd && this.mode !== 'text')) {
      if (this.mode === 'opaque') {
        const idx = buf.indexOf(this.opaqueEnd, pos)
        if (idx >= 0) {
          this.appendText(buf.subarray(pos, idx + this.opaqueEnd.length))
          pos = idx + this.opaqueEnd.length
          this.mode = 'text'
          textFrom = pos
          continue
        }
        if (isEnd) {
          this.appendText(buf.subarray(pos))
          pos = buf.length
          this.warn('unclosed-comment', `${this.opaqueEnd === CDATA_END ? 'CDATA section' : 'HTML comment'} is not closed; ESI markup after it was not processed`, this.opaqueOffset)
          this.mode = 'text'
          textFrom = pos
          break
        }
        const keep = Math.min(this.opaqueEnd.length - 1, buf.length - pos)
        this.appendText(buf.subarray(pos, buf.length - keep))
        pos = buf.length - keep
        textFrom = pos
        break
      }

      if (this.mode === 'remove') {
        const idx = buf.indexOf(REMOVE_END, pos)
        if (idx >= 0) {
          this.removeChunks = []
          pos = idx + REMOVE_END.length
          this.mode = 'text'
          textFrom = pos
          continue
        }
        if (isEnd) {
          // Unclosed remove: drop the open tag, parse its content as if it were not there.
          this.warn('unclosed-element', 'esi:remove is not closed; its start tag is dropped and its content kept', this.removeOffset)
          buf = Buffer.concat([...this.removeChunks, buf.subarray(pos)])
          this.removeChunks = []
          this.base = this.removeContentOffset
          pos = 0
          textFrom = 0
          ltAt = dollarAt = commentEndAt = -2
          this.mode = 'text'
          continue
        }
        const keep = Math.min(REMOVE_END.length - 1, buf.length - pos)
        if (buf.length - keep > pos) this.removeChunks.push(Buffer.from(buf.subarray(pos, buf.length - keep)))
        pos = buf.length - keep
        textFrom = pos
        break
      }

      // text mode. Plain bytes (a `<` that starts no markup included) accumulate from
      // `textFrom` and go to the sink in one piece when markup, a pause or the end comes.
      const flush = (): void => {
        if (pos > textFrom) this.appendText(buf.subarray(textFrom, pos))
        textFrom = pos
      }
      if (ltAt !== -1 && ltAt < pos) ltAt = buf.indexOf(LT, pos)
      let next = ltAt
      if (this.varsDepth > 0) {
        if (dollarAt !== -1 && dollarAt < pos) dollarAt = buf.indexOf(DOLLAR, pos)
        if (dollarAt >= 0 && (next < 0 || dollarAt < next)) next = dollarAt
      }
      if (this.commentDepth > 0) {
        if (commentEndAt !== -1 && commentEndAt < pos) commentEndAt = buf.indexOf(COMMENT_END, pos)
        if (commentEndAt >= 0 && (next < 0 || commentEndAt < next)) next = commentEndAt
      }
      if (next < 0) {
        // hold back a tail that may begin `-->` or `$(`
        let keep = 0
        if (!isEnd) {
          if (this.commentDepth > 0) keep = buf[buf.length - 1] === 0x2d ? (buf[buf.length - 2] === 0x2d ? 2 : 1) : 0
          if (this.varsDepth > 0 && buf[buf.length - 1] === DOLLAR) keep = Math.max(keep, 1)
        }
        pos = Math.max(pos, buf.length - keep)
        flush()
        break
      }
      pos = next
      const at = this.base + pos
      const byte = buf[pos]

      if (byte === 0x2d) { // `-->` closing a `<!--esi`
        flush()
        this.closeEsiComment(at)
        pos += COMMENT_END.length
        textFrom = pos
        continue
      }

      if (byte === DOLLAR) {
        const scan = this.scanVariable(buf, pos, isEnd)
        if (scan.kind === 'need-more') { flush(); break }
        if (scan.kind === 'plain') { pos += 1; continue }
        flush()
        this.checkRef(scan.ref, at)
        this.appendNode({ type: 'var', ref: scan.ref })
        pos += scan.length
        textFrom = pos
        continue
      }

      // `<`
      const start = matchAt(buf, pos, M_ESI_START)
      const end = matchAt(buf, pos, M_ESI_END)
      const esiComment = matchAt(buf, pos, M_ESI_COMMENT)
      const htmlComment = matchAt(buf, pos, M_HTML_COMMENT)
      const cdata = matchAt(buf, pos, M_CDATA)

      if (start === 'yes') {
        const tagEnd = this.findTagEnd(buf, pos, isEnd)
        if (tagEnd === 'need-more') { flush(); break }
        if (tagEnd === 'fail') {
          this.warn('malformed-tag', `"<esi:" tag without ">" within ${this.options.maxTagBytes} bytes; kept as text`, at)
          pos += 1
          continue
        }
        flush()
        this.startTag(buf.toString('utf8', pos, tagEnd), at)
        pos = tagEnd
        textFrom = pos
        if ((this.mode as string) === 'remove') { // startTag opened an esi:remove
          this.removeOffset = at
          this.removeContentOffset = this.base + pos
        }
        continue
      }
      if (end === 'yes') {
        const limit = Math.min(buf.length, pos + this.options.maxTagBytes)
        let gt = buf.indexOf(GT, pos)
        if (gt >= limit) gt = -1
        if (gt < 0) {
          if (!isEnd && buf.length < pos + this.options.maxTagBytes) { flush(); break }
          this.warn('malformed-tag', `"</esi:" tag without ">" within ${this.options.maxTagBytes} bytes; kept as text`, at)
          pos += 1
          continue
        }
        flush()
        this.endTag(buf.toString('utf8', pos, gt + 1), at)
        pos = gt + 1
        textFrom = pos
        continue
      }
      if (esiComment === 'yes') {
        const after = buf[pos + M_ESI_COMMENT.length]
        if (after === undefined && !isEnd) { flush(); break }
        const closesAtOnce = matchAt(buf, pos + M_ESI_COMMENT.length, COMMENT_END)
        if (closesAtOnce === 'partial' && !isEnd) { flush(); break }
        if (isSpaceByte(after) || closesAtOnce === 'yes') {
          flush()
          this.openFrame('esi-comment', at, undefined)
          pos += M_ESI_COMMENT.length
          textFrom = pos
          continue
        }
        // otherwise an ordinary comment: fall through
      }
      if (htmlComment === 'yes' || cdata === 'yes') {
        if (htmlComment === 'yes' && esiComment === 'partial' && !isEnd) { flush(); break }
        const marker = htmlComment === 'yes' ? M_HTML_COMMENT : M_CDATA
        this.mode = 'opaque'
        this.opaqueEnd = htmlComment === 'yes' ? COMMENT_END : CDATA_END
        this.opaqueOffset = at
        pos += marker.length
        flush() // the text before and the opening marker itself
        continue
      }
      if (!isEnd && [start, end, esiComment, htmlComment, cdata].includes('partial')) { flush(); break }
      pos += 1 // a `<` that starts nothing: plain text
    }
    if (this.mode === 'text' && pos > textFrom) this.appendText(buf.subarray(textFrom, pos))
    this.pending = pos >= buf.length ? Buffer.alloc(0) : buf.subarray(pos)
    this.base += pos
  }

  /**
   * Finds the `>` ending the tag at `pos`: the first one outside quotes; if a quote stays open
   * within `maxTagBytes` (or to the end), the first `>` at all.
   */
  private findTagEnd(buf: Buffer, pos: number, isEnd: boolean): number | 'need-more' | 'fail' {
    const limit = Math.min(buf.length, pos + this.options.maxTagBytes)
    let quote = 0
    let firstGt = -1
    for (let j = pos + M_ESI_START.length; j < limit; j++) {
      const b = buf[j]!
      if (b === GT && firstGt < 0) firstGt = j
      if (quote !== 0) { if (b === quote) quote = 0; continue }
      if (b === 0x22 || b === 0x27) quote = b
      else if (b === GT) return j + 1
    }
    if (!isEnd && limit === buf.length && buf.length < pos + this.options.maxTagBytes) return 'need-more'
    return firstGt >= 0 ? firstGt + 1 : 'fail'
  }

  /**
   * Reads `$(…)` inside `esi:vars` at `pos` (on the `$`): a reference, plain text (the `$`
   * starts none), or a request for more input. Looks at 256 bytes first, then up to
   * `maxTagBytes` if the reference is still open (the answer does not depend on the window).
   */
  private scanVariable(buf: Buffer, pos: number, isEnd: boolean): { kind: 'need-more' } | { kind: 'plain' } | { kind: 'ref'; ref: VariableRef; length: number } {
    if (pos + 1 >= buf.length) return isEnd ? { kind: 'plain' } : { kind: 'need-more' }
    if (buf[pos + 1] !== 0x28) return { kind: 'plain' }
    const max = Math.min(buf.length, pos + this.options.maxTagBytes)
    let limit = Math.min(max, pos + 256)
    // The grammar is decided by ASCII bytes only: scan a latin1 view (one char per byte).
    let scan = scanVariableRef(buf.toString('latin1', pos, limit), 0)
    if (scan.kind === 'incomplete' && limit < max) {
      limit = max
      scan = scanVariableRef(buf.toString('latin1', pos, limit), 0)
    }
    if (scan.kind === 'incomplete' && !isEnd && limit === buf.length && buf.length < pos + this.options.maxTagBytes) return { kind: 'need-more' }
    if (scan.kind !== 'ok') return { kind: 'plain' }
    const exact = scanVariableRef(buf.toString('utf8', pos, pos + scan.end), 0)
    return { kind: 'ref', ref: exact.kind === 'ok' ? exact.ref : scan.ref, length: scan.end }
  }

  private checkRef(ref: VariableRef, offset: number): void {
    if (this.top().isDiscarding) return
    const problem = checkVariableRef(ref)
    if (problem) this.warn('bad-variable', problem, offset)
  }

  private checkTemplate(template: Template, offset: number): void {
    for (const part of template) if (typeof part !== 'string') this.checkRef(part, offset)
  }

  // ---- elements ------------------------------------------------------------------------------

  private parseAttributes(text: string, element: string, offset: number): Map<string, string> {
    const attrs = new Map<string, string>()
    const n = text.length
    let i = 0
    const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f'
    while (i < n) {
      while (i < n && isSpace(text[i])) i++
      if (i >= n) break
      const nameStart = i
      while (i < n && !isSpace(text[i]) && text[i] !== '=' && text[i] !== '"' && text[i] !== "'") i++
      const name = text.slice(nameStart, i)
      if (!name) {
        this.warn('bad-attribute', `esi:${element}: unexpected ${JSON.stringify(text[i])} in the tag`, offset)
        i++
        continue
      }
      while (i < n && isSpace(text[i])) i++
      let value = ''
      if (text[i] !== '=') {
        this.warn('bad-attribute', `esi:${element}: attribute "${name}" has no value`, offset)
      } else {
        i++
        while (i < n && isSpace(text[i])) i++
        const q = text[i]
        if (q === '"' || q === "'") {
          const close = text.indexOf(q, i + 1)
          if (close < 0) {
            this.warn('bad-attribute', `esi:${element}: the value of "${name}" has no closing quote`, offset)
            value = text.slice(i + 1)
            i = n
          } else {
            value = text.slice(i + 1, close)
            i = close + 1
          }
        } else {
          const valueStart = i
          while (i < n && !isSpace(text[i])) i++
          value = text.slice(valueStart, i)
          this.warn('bad-attribute', `esi:${element}: the value of "${name}" is not quoted`, offset)
        }
      }
      if (attrs.has(name)) {
        this.warn('bad-attribute', `esi:${element}: attribute "${name}" is repeated; the first is used`, offset)
        continue
      }
      attrs.set(name, decodeEntities(value))
    }
    const known = Object.hasOwn(ATTRIBUTES, element) ? ATTRIBUTES[element] : undefined
    if (known) {
      const unknown = [...attrs.keys()].filter((a) => !known.includes(a))
      if (unknown.length > 0) this.warn('unknown-attribute', `esi:${element}: attribute${unknown.length > 1 ? 's' : ''} ${unknown.map((a) => `"${a}"`).join(', ')} ignored`, offset)
    }
    return attrs
  }

  private startTag(tag: string, offset: number): void {
    const name = /^<esi:([^\s/>]*)/.exec(tag)![1]!
    let body = tag.slice(M_ESI_START.length + name.length, -1)
    const isSelfClosing = /\/\s*$/.test(body)
    if (isSelfClosing) body = body.replace(/\/\s*$/, '')
    const element = name
    if (!Object.hasOwn(ATTRIBUTES, element)) {
      this.warn('unknown-element', `<esi:${name}> is not an ESI 1.0 element; its tags are dropped`, offset)
      return
    }
    const attrs = this.parseAttributes(body, element, offset)
    switch (element) {
      case 'include': {
        if (!isSelfClosing) this.warn('empty-element-form', 'esi:include is an empty element; write <esi:include … /> (§3.1)', offset)
        this.include(attrs, offset)
        return
      }
      case 'comment':
        if (!isSelfClosing) this.warn('empty-element-form', 'esi:comment is an empty element; write <esi:comment … /> (§3.5)', offset)
        return
      case 'remove':
        if (!isSelfClosing) this.mode = 'remove'
        return
      case 'inline':
        this.warn('unsupported-element', 'esi:inline (§3.2) is not supported; its tags are dropped and its content kept', offset)
        break
      default:
        break
    }
    let test: ParsedExpression | undefined
    if (element === 'when') {
      const source = attrs.get('test')
      if (source === undefined) {
        if (!this.top().isDiscarding) this.warn('missing-attribute', 'esi:when without test; it is never taken', offset)
        test = { ok: false, source: '', error: 'missing test attribute', at: 0 }
      } else {
        test = parseExpression(source)
        if (!test.ok && !this.top().isDiscarding) this.warn('bad-expression', `esi:when test "${source}": ${test.error} (at character ${test.at}); the branch is never taken`, offset)
        if (test.ok) this.checkExpressionRefs(test, offset)
      }
    }
    this.openFrame(element as FrameKind, offset, test)
    if (isSelfClosing) this.close()
  }

  private checkExpressionRefs(test: ParsedExpression, offset: number): void {
    if (!test.ok) return
    const walk = (e: unknown): void => {
      if (typeof e !== 'object' || e === null) return
      const node = e as { op?: string; ref?: VariableRef }
      if (node.op === 'var' && node.ref) this.checkRef(node.ref, offset)
      for (const v of Object.values(e)) if (typeof v === 'object') walk(v)
    }
    walk(test.ast)
  }

  private include(attrs: Map<string, string>, offset: number): void {
    if (this.top().isDiscarding) return
    const src = attrs.get('src')
    if (!src) {
      this.warn('missing-attribute', 'esi:include without src; dropped (§3.1)', offset)
      return
    }
    const onerror = attrs.get('onerror')
    if (onerror !== undefined && onerror !== 'continue') this.warn('bad-onerror', `esi:include onerror="${onerror}" ignored; the only value is "continue" (§3.1)`, offset)
    const node: EsiInclude = { type: 'include', src: parseTemplate(src), continueOnError: onerror === 'continue', offset }
    this.checkTemplate(node.src, offset)
    const alt = attrs.get('alt')
    if (alt) {
      node.alt = parseTemplate(alt)
      this.checkTemplate(node.alt, offset)
    }
    this.includeCount++
    if (this.includeCount > this.options.maxIncludes) {
      node.isOverLimit = true
      if (!this.isOverLimitReported) {
        this.isOverLimitReported = true
        this.warn('too-many-includes', `more than ${this.options.maxIncludes} includes (maxIncludes); this one and later ones are refused`, offset)
      }
    }
    this.appendNode(node)
  }

  /** The nearest frame that is not transparent (the element whose structure a child joins). */
  private structuralParent(): Frame {
    for (let k = this.stack.length - 1; k >= 0; k--) if (!this.stack[k]!.isTransparent) return this.stack[k]!
    return this.stack[0]!
  }

  private push(frame: Frame): void {
    this.stack.push(frame)
    if (frame.kind === 'vars') this.varsDepth++
    if (frame.kind === 'esi-comment') this.commentDepth++
  }

  private openFrame(kind: FrameKind, offset: number, test: ParsedExpression | undefined): void {
    const top = this.top()
    const discard = (): void => this.push({ kind, offset, sink: { items: [], isNull: true }, isTransparent: true, isDiscarding: true })
    const transparent = (): void => this.push({ kind, offset, sink: top.sink, isTransparent: true, isDiscarding: false })
    const own = (extra: Partial<Frame> = {}): void => this.push({ kind, offset, sink: { items: [], isNull: false }, isTransparent: false, isDiscarding: false, ...extra })
    if (top.isDiscarding) return discard()
    if (this.stack.length - 1 >= this.options.maxNestingDepth) {
      this.warn('too-deep', `${describe(kind)} is nested deeper than ${this.options.maxNestingDepth} (maxNestingDepth); dropped with its content`, offset)
      return discard()
    }
    const parent = this.structuralParent().kind
    switch (kind) {
      case 'try':
      case 'choose':
        return own()
      case 'attempt':
      case 'except':
        if (parent === 'try') return own()
        if (kind === 'attempt') {
          this.warn('misplaced-element', 'esi:attempt outside esi:try; its content is kept as if the tags were not there', offset)
          return transparent()
        }
        this.warn('misplaced-element', 'esi:except outside esi:try; dropped with its content', offset)
        return discard()
      case 'when':
        if (parent === 'choose') return own({ test })
        this.warn('misplaced-element', 'esi:when outside esi:choose; treated as a choose with this one branch', offset)
        return own({ test, isImplicitChoose: true })
      case 'otherwise':
        if (parent === 'choose') return own()
        this.warn('misplaced-element', 'esi:otherwise outside esi:choose; its content is kept', offset)
        return transparent()
      default: // vars, inline, esi-comment
        return transparent()
    }
  }

  /** Pops the top frame and hands what it built to its parent. */
  private close(): void {
    const frame = this.stack.pop()!
    if (frame.kind === 'vars') this.varsDepth--
    if (frame.kind === 'esi-comment') this.commentDepth--
    if (frame.isDiscarding || frame.isTransparent) return
    const parentSink = this.top().sink
    switch (frame.kind) {
      case 'try': return this.closeTry(frame, parentSink)
      case 'choose': return this.closeChoose(frame, parentSink)
      case 'when':
        if (frame.isImplicitChoose) {
          this.appendNode({ type: 'choose', whens: [{ test: frame.test!, children: nodesOf(frame.sink.items), offset: frame.offset }], offset: frame.offset }, parentSink)
          return
        }
        this.appendNode({ type: 'branch', kind: 'when', children: nodesOf(frame.sink.items), offset: frame.offset, test: frame.test! }, parentSink)
        return
      case 'attempt':
      case 'except':
      case 'otherwise':
        this.appendNode({ type: 'branch', kind: frame.kind, children: nodesOf(frame.sink.items), offset: frame.offset }, parentSink)
        return
      default:
        return
    }
  }

  /** Splits a try/choose's children into branches and stray content (warned about, dropped). */
  private branches(frame: Frame, element: string): Branch[] {
    const out: Branch[] = []
    let hasStray = false
    for (const child of finalize(frame.sink.items)) {
      if (child.type === 'branch') out.push(child)
      else if (child.type !== 'text' || !isWhitespace(child.bytes)) hasStray = true
    }
    if (hasStray) this.warn('misplaced-element', `content directly inside esi:${element} is dropped; only ${element === 'try' ? 'attempt and except' : 'when and otherwise'} may be there`, frame.offset)
    return out
  }

  private closeTry(frame: Frame, parentSink: Sink): void {
    let attempt: EsiNode[] | undefined
    let except: EsiNode[] | undefined
    for (const b of this.branches(frame, 'try')) {
      if (b.kind === 'attempt') {
        if (attempt) this.warn('invalid-structure', 'esi:try with more than one esi:attempt; the first is used (§3.4)', b.offset)
        else attempt = b.children
      } else if (b.kind === 'except') {
        if (except) this.warn('invalid-structure', 'esi:try with more than one esi:except; the first is used (§3.4)', b.offset)
        else except = b.children
      }
    }
    if (!attempt) this.warn('invalid-structure', 'esi:try without esi:attempt (§3.4)', frame.offset)
    if (!except) this.warn('invalid-structure', 'esi:try without esi:except (§3.4); a failure inside it shows nothing', frame.offset)
    this.appendNode({ type: 'try', attempt: attempt ?? [], except: except ?? [], offset: frame.offset }, parentSink)
  }

  private closeChoose(frame: Frame, parentSink: Sink): void {
    const whens: EsiWhen[] = []
    let otherwise: EsiNode[] | undefined
    for (const b of this.branches(frame, 'choose')) {
      if (b.kind === 'when') whens.push({ test: b.test!, children: b.children, offset: b.offset })
      else if (b.kind === 'otherwise') {
        if (otherwise) this.warn('invalid-structure', 'esi:choose with more than one esi:otherwise; the first is used (§3.3)', b.offset)
        else otherwise = b.children
      }
    }
    if (whens.length === 0) this.warn('invalid-structure', 'esi:choose without esi:when (§3.3)', frame.offset)
    const node: EsiChoose = { type: 'choose', whens, offset: frame.offset }
    if (otherwise) node.otherwise = otherwise
    if (whens.length > 0 || otherwise) this.appendNode(node, parentSink)
  }

  private endTag(tag: string, offset: number): void {
    const name = /^<\/esi:([^\s/>]*)/.exec(tag)![1]!
    if (name === 'include' || name === 'comment') {
      this.warn('empty-element-form', `</esi:${name}>: esi:${name} is an empty element and has no end tag; dropped`, offset)
      return
    }
    if (name === 'remove') {
      this.warn('stray-end-tag', '</esi:remove> without <esi:remove>; dropped', offset)
      return
    }
    if (!CONTAINERS.has(name as FrameKind)) {
      this.warn('unknown-element', `</esi:${name}> is not an ESI 1.0 element; dropped`, offset)
      return
    }
    let k = this.stack.length - 1
    while (k > 0 && this.stack[k]!.kind !== name) k--
    if (k === 0) {
      this.warn('stray-end-tag', `</esi:${name}> without an open esi:${name}; dropped`, offset)
      return
    }
    while (this.stack.length - 1 > k) {
      this.warn('unclosed-element', `${describe(this.top().kind)} is not closed before </esi:${name}>; closed there`, this.top().offset)
      this.close()
    }
    this.close()
  }

  private closeEsiComment(offset: number): void {
    let k = this.stack.length - 1
    while (k > 0 && this.stack[k]!.kind !== 'esi-comment') k--
    if (k === 0) return // cannot happen: `-->` is looked for only inside <!--esi
    while (this.stack.length - 1 > k) {
      this.warn('unclosed-element', `${describe(this.top().kind)} is not closed before the "-->" at ${offset}; closed there`, this.top().offset)
      this.close()
    }
    this.close()
  }
}

function describe(kind: FrameKind): string {
  return kind === 'esi-comment' ? '<!--esi' : kind === 'root' ? 'the document' : `esi:${kind}`
}

/** Parses a whole body at once (same result as any chunking through `EsiParser`). */
export function parseEsi(body: Buffer | string, options?: EsiParserOptions): EsiDocument {
  const parser = new EsiParser(options)
  parser.write(body)
  return parser.end()
}

/** The warning codes, re-exported for callers that only import the parser. */
export { ESI_WARNINGS }
export type { EsiWarning, EsiWarningCode }
