/**
 * @module observe/access-log-batch
 * The access log's batch: the raw fields of up to CAPACITY requests, one array per field,
 * reused from batch to batch, and the formatters that write a whole batch's lines as bytes.
 * Capturing a request stores a few string references and numbers: no object, no string built.
 * Formatting writes each character straight into a reused byte buffer — printable ASCII as it
 * is, numbers digit by digit, dates made once per second — so a line makes no garbage and
 * needs no string-to-bytes conversion; only a field outside printable ASCII takes a slower
 * path (nginx's escapes, or JSON.stringify). Both formats write exactly what one
 * `formatCombined`/`formatJson` call per record wrote before batching, as UTF-8; a unit test
 * compares them on generated records.
 */

export type AccessLogFormat = 'combined' | 'json'

/** Requests a batch holds at most (it is written when full, or sooner: see AccessLog). */
export const CAPACITY = 4096

/** Fixed bytes of a line besides its URL, referer and agent, for the batch's size estimate. */
const LINE_BYTES = 120
/** A bound on a line's bytes besides 6 per character of its strings (numbers, dates, punctuation). */
const LINE_MAX_FIXED_BYTES = 400

/** Any character but printable ASCII without `"` and `\`. */
const NOT_PLAIN = /[^\x20\x21\x23-\x5b\x5d-\x7e]/
/** Longer fields are checked by NOT_PLAIN and copied natively: faster than a loop beyond this. */
const LONG_FIELD = 24

export class AccessLogBatch {
  /** requests captured */
  length = 0
  /** the estimated size of the batch's lines, in bytes */
  bytes = 0
  private readonly remote: string[] = new Array<string>(CAPACITY).fill('')
  private readonly method: string[] = new Array<string>(CAPACITY).fill('')
  private readonly url: string[] = new Array<string>(CAPACITY).fill('')
  private readonly httpVersion: Array<string | undefined> = new Array<string | undefined>(CAPACITY).fill('')
  private readonly host: string[] = new Array<string>(CAPACITY).fill('')
  private readonly referer: Array<string | undefined> = new Array<string | undefined>(CAPACITY).fill('')
  private readonly userAgent: Array<string | undefined> = new Array<string | undefined>(CAPACITY).fill('')
  private readonly state: string[] = new Array<string>(CAPACITY).fill('')
  private readonly time = new Float64Array(CAPACITY)
  private readonly status = new Float64Array(CAPACITY)
  private readonly bodyBytes = new Float64Array(CAPACITY)
  private readonly durationMs = new Float64Array(CAPACITY)
  /** NaN: no origin fetch */
  private readonly originMs = new Float64Array(CAPACITY)
  private readonly id = new Float64Array(CAPACITY)
  /** where lines are written; grown when a batch needs more */
  private buf = Buffer.allocUnsafe(256 << 10)
  private pos = 0

  /** Captures one request; the caller checks `length < CAPACITY` first. */
  add(remote: string, time: number, method: string, url: string, httpVersion: string | undefined, host: string, status: number, bytes: number,
    referer: string | undefined, userAgent: string | undefined, state: string, durationMs: number, originMs: number | undefined, id: number): void {
    const i = this.length++
    this.remote[i] = remote
    this.time[i] = time
    this.method[i] = method
    this.url[i] = url
    this.httpVersion[i] = httpVersion
    this.host[i] = host
    this.status[i] = status
    this.bodyBytes[i] = bytes
    this.referer[i] = referer
    this.userAgent[i] = userAgent
    this.state[i] = state
    this.durationMs[i] = durationMs
    this.originMs[i] = originMs ?? NaN
    this.id[i] = id
    this.bytes += LINE_BYTES + url.length + (referer === undefined ? 0 : referer.length) + (userAgent === undefined ? 0 : userAgent.length)
  }

  /** The batch's lines as UTF-8, each ending in a newline; the batch is emptied. */
  take(format: AccessLogFormat): Buffer {
    this.pos = 0
    for (let i = 0; i < this.length; i++) {
      this.reserve(i)
      if (format === 'json') this.json(i)
      else this.combined(i)
    }
    const out = Buffer.allocUnsafe(this.pos)
    this.buf.copy(out, 0, 0, this.pos)
    this.clear()
    return out
  }

  /** Makes room for line i's longest possible text (a character takes at most 6 bytes: `\xNNNN`, `\uNNNN`). */
  private reserve(i: number): void {
    const chars = this.remote[i]!.length + this.method[i]!.length + this.url[i]!.length + (this.httpVersion[i]?.length ?? 3) + this.host[i]!.length
      + (this.referer[i]?.length ?? 0) + (this.userAgent[i]?.length ?? 0) + this.state[i]!.length
    const need = this.pos + LINE_MAX_FIXED_BYTES + 6 * chars
    if (need <= this.buf.length) return
    const bigger = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2))
    this.buf.copy(bigger, 0, 0, this.pos)
    this.buf = bigger
  }

  /** `remote - - [time] "METHOD url HTTP/v" status bytes "referer" "agent" state seconds` */
  private combined(i: number): void {
    const remote = this.remote[i]!
    this.raw(remote === '' ? '-' : remote)
    this.raw(' - - ')
    this.raw(clfTime(this.time[i]!))
    this.raw(' "')
    this.escaped(this.method[i]!)
    this.byte(0x20)
    this.escaped(this.url[i]!)
    this.raw(' HTTP/')
    this.escaped(this.httpVersion[i] ?? '1.1')
    this.raw('" ')
    this.number(this.status[i]!, false)
    this.byte(0x20)
    const bytes = this.bodyBytes[i]!
    if (bytes > 0) this.number(bytes, false)
    else this.byte(0x2d)
    this.byte(0x20)
    this.quoted(this.referer[i])
    this.byte(0x20)
    this.quoted(this.userAgent[i])
    this.byte(0x20)
    this.raw(this.state[i]!)
    this.byte(0x20)
    this.seconds(this.durationMs[i]!)
    this.byte(0x0a)
  }

  /** The JSON.stringify of the record's object, its keys in this order, absent ones left out. */
  private json(i: number): void {
    this.raw('{"time":"')
    this.isoTime(this.time[i]!)
    this.jsonField('","remote":', this.remote[i], false)
    this.jsonField(',"method":', this.method[i], false)
    this.jsonField(',"host":', this.host[i], true)
    this.jsonField(',"url":', this.url[i], true)
    this.raw(',"status":')
    this.number(this.status[i]!, true)
    this.raw(',"bytes":')
    this.number(this.bodyBytes[i]!, true)
    this.jsonField(',"state":', this.state[i], false)
    this.raw(',"ms":')
    this.milliseconds(this.durationMs[i]!)
    const originMs = this.originMs[i]!
    if (!Number.isNaN(originMs)) {
      this.raw(',"originMs":')
      this.milliseconds(originMs)
    }
    this.jsonField(',"referer":', this.referer[i], true)
    this.jsonField(',"userAgent":', this.userAgent[i], true)
    this.raw(',"id":')
    this.number(this.id[i]!, true)
    this.raw('}\n')
  }

  /** `key` and the field's JSON string; nothing when the field is absent (JSON.stringify leaves it out). */
  private jsonField(key: string, text: string | undefined, isHeader: boolean): void {
    if (text === undefined) return
    this.raw(key)
    this.jsonString(text, isHeader)
  }

  /** `new Date(ms).toISOString()` */
  private isoTime(ms: number): void {
    if (!Number.isInteger(ms) || ms < 0 || ms > LAST_ISO_MS) return this.raw(new Date(ms).toISOString())
    const second = Math.floor(ms / 1000)
    this.raw(isoSecondText(second))
    this.digits(ms - second * 1000, 3)
    this.byte(0x5a)
  }

  private byte(c: number): void {
    this.buf[this.pos++] = c
  }

  /** A string as it is, in UTF-8 (ASCII byte by byte; anything else by Buffer.write). */
  private raw(text: string): void {
    const buf = this.buf
    let pos = this.pos
    for (let k = 0; k < text.length; k++) {
      const c = text.charCodeAt(k)
      if (c > 0x7f) {
        this.pos += buf.write(text, this.pos, 'utf8')
        return
      }
      buf[pos++] = c
    }
    this.pos = pos
  }

  /**
   * A field as nginx writes it inside quotes: `"` and `\` escaped, control bytes and bytes
   * above 0x7e as \xNN. Header values arrive as latin1 (one char per byte), so each byte is
   * escaped as it came, never re-encoded.
   */
  private escaped(text: string): void {
    const buf = this.buf
    if (text.length > LONG_FIELD && !NOT_PLAIN.test(text)) {
      this.pos += buf.write(text, this.pos, 'latin1')
      return
    }
    let pos = this.pos
    for (let k = 0; k < text.length; k++) {
      const c = text.charCodeAt(k)
      if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) buf[pos++] = c
      else if (c === 0x22 || c === 0x5c) {
        buf[pos++] = 0x5c
        buf[pos++] = c
      } else {
        buf[pos++] = 0x5c
        buf[pos++] = 0x78
        pos += buf.write(c.toString(16).toUpperCase().padStart(2, '0'), pos, 'latin1')
      }
    }
    this.pos = pos
  }

  /** `"-"` when absent or empty, else the escaped text in quotes. */
  private quoted(text: string | undefined): void {
    if (text === undefined || text === '') return this.raw('"-"')
    this.byte(0x22)
    this.escaped(text)
    this.byte(0x22)
  }

  /**
   * JSON.stringify(text): printable ASCII without `"` and `\` is copied in quotes; anything
   * else is stringified, header-derived text (`isHeader`) first read as the UTF-8 its latin1
   * chars usually are.
   */
  private jsonString(text: string, isHeader: boolean): void {
    const buf = this.buf
    const start = this.pos
    let pos = start
    buf[pos++] = 0x22
    if (text.length > LONG_FIELD && !NOT_PLAIN.test(text)) {
      pos += buf.write(text, pos, 'latin1')
      buf[pos++] = 0x22
      this.pos = pos
      return
    }
    for (let k = 0; k < text.length; k++) {
      const c = text.charCodeAt(k)
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
        this.pos = start
        this.raw(JSON.stringify(isHeader ? utf8(text) : text))
        return
      }
      buf[pos++] = c
    }
    buf[pos++] = 0x22
    this.pos = pos
  }

  /** String(n) (JSON.stringify(n) when `isJson`): an integer digit by digit, anything else by String. */
  private number(n: number, isJson: boolean): void {
    if (!(Number.isInteger(n) && n >= 0 && n < 1e15)) return this.raw(isJson && !Number.isFinite(n) ? 'null' : String(n))
    this.digits(n, 0)
  }

  /** n's digits, at least `width` of them (zero-padded); n a non-negative integer below 1e15. */
  private digits(n: number, width: number): void {
    let count = 1
    for (let p = 10; p <= n; p *= 10) count++
    if (count < width) count = width
    const buf = this.buf
    const start = this.pos
    let at = start + count
    this.pos = at
    // int32 arithmetic while it fits: a double's % is a slow call
    while (n >= 0x80000000) {
      const rest = n % 10
      buf[--at] = 0x30 + rest
      n = (n - rest) / 10
    }
    let m = n | 0
    while (at > start) {
      const q = (m / 10) | 0
      buf[--at] = 0x30 + m - q * 10
      m = q
    }
  }

  /** `(ms / 1000).toFixed(6)`; by integer arithmetic unless the rounding is too close to call. */
  private seconds(ms: number): void {
    const s = ms / 1000
    const micros = s * 1e6
    // below 1e10 µs the product's error is under 2e-6 µs: only a fraction within 1e-4 of one half
    // could round the other way than toFixed's exact decimal arithmetic
    if (!(micros >= 0 && micros < 1e10)) return this.raw(s.toFixed(6))
    const whole = Math.floor(micros)
    const fraction = micros - whole
    if (fraction > 0.4999 && fraction < 0.5001) return this.raw(s.toFixed(6))
    const rounded = fraction > 0.5 ? whole + 1 : whole
    const unit = Math.floor(rounded / 1e6)
    this.digits(unit, 0)
    this.byte(0x2e)
    this.digits(rounded - unit * 1e6, 6)
  }

  /**
   * String(Math.round(ms * 1000) / 1000), as JSON writes it: for k = Math.round(ms * 1000) below
   * 1e15 that is k / 1000 in decimal with the fraction's trailing zeros dropped (the nearest
   * double to k / 1000 is shortest written so).
   */
  private milliseconds(ms: number): void {
    const k = Math.round(ms * 1000)
    if (!(k >= 0 && k < 1e15)) return this.number(k / 1000, true)
    const unit = Math.floor(k / 1000)
    this.digits(unit, 0)
    let fraction = k - unit * 1000
    if (fraction === 0) return
    this.byte(0x2e)
    let width = 3
    while (fraction % 10 === 0) {
      fraction /= 10
      width--
    }
    this.digits(fraction, width)
  }

  /** Drops the references to the batch's strings, so that they can be collected young. */
  private clear(): void {
    const n = this.length
    for (const column of [this.remote, this.method, this.url, this.httpVersion, this.host, this.referer, this.userAgent, this.state]) column.fill('', 0, n)
    this.length = 0
    this.bytes = 0
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

let clfSecond = -1
let clfText = ''

/** `[10/Oct/2000:13:55:36 +0000]`, in UTC; made once per second. */
function clfTime(ms: number): string {
  const second = Math.floor(ms / 1000)
  if (second === clfSecond) return clfText
  clfSecond = second
  clfText = formatClfTime(ms)
  return clfText
}

function formatClfTime(ms: number): string {
  const d = new Date(ms)
  const p = (n: number) => String(n).padStart(2, '0')
  return `[${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000]`
}

/** The last instant of year 9999: beyond it toISOString's shape changes. */
const LAST_ISO_MS = 253402300799999
let isoSecond = -1
let isoText = ''

/** The first 20 characters of `new Date(ms).toISOString()` (up to the milliseconds), made once per second. */
function isoSecondText(second: number): string {
  if (second !== isoSecond) {
    isoSecond = second
    isoText = new Date(second * 1000).toISOString().slice(0, 20)
  }
  return isoText
}

/** Header bytes (latin1 chars) read as the UTF-8 they usually are, for JSON. */
function utf8(value: string): string {
  return /[\x80-\xff]/.test(value) ? Buffer.from(value, 'latin1').toString('utf8') : value
}
