/**
 * @module observe/access-log-batch
 * The access log's batch: the lines of up to CAPACITY requests, written as bytes into one
 * reused buffer as each request finishes, and taken as one chunk to be written. A request's
 * line is formatted at once, so the batch keeps no reference to the request's strings: kept
 * for the ~20 ms a batch waits, they would outlive a scavenge or two and be promoted to the old
 * generation, which cost far more than the formatting (callgrind, bench/instructions.mjs:
 * +16 % instructions per 1 KB hit on the serving thread and +15 % more in V8's GC threads when
 * the fields were captured and formatted later; see bench/README.md).
 * Formatting writes each character straight into the buffer — printable ASCII as it is,
 * numbers digit by digit, dates made once per second — so a line makes no garbage and needs no
 * string-to-bytes conversion; only a field outside printable ASCII takes a slower path
 * (nginx's escapes, or JSON.stringify). Both formats write exactly what one
 * `formatCombined`/`formatJson` call per record writes, as UTF-8; a unit test compares them on
 * generated records.
 */

export type AccessLogFormat = 'combined' | 'json'

/** Requests a batch holds at most (it is written when full, or sooner: see AccessLog). */
export const CAPACITY = 4096

/** A batch's buffer: a 64 KiB batch (AccessLog's BATCH_BYTES) and its last line fit, longer lines make it grow. */
const BUFFER_BYTES = 96 << 10
/** A bound on a line's bytes besides 6 per character of its strings (numbers, dates, punctuation). */
const LINE_MAX_FIXED_BYTES = 400

/** Any character but printable ASCII without `"` and `\`. */
const NOT_PLAIN = /[^\x20\x21\x23-\x5b\x5d-\x7e]/
/** Longer fields are checked by NOT_PLAIN and copied natively: faster than a loop beyond this. */
const LONG_FIELD = 24

export class AccessLogBatch {
  /** requests captured */
  length = 0
  /** where lines are written; grown when a line needs more */
  private buf = Buffer.allocUnsafe(BUFFER_BYTES)
  private pos = 0

  constructor(private readonly format: AccessLogFormat = 'combined') {}

  /** The size of the batch's lines, in bytes. */
  get bytes(): number {
    return this.pos
  }

  /** Writes one request's line; the caller checks `length < CAPACITY` first. */
  add(remote: string, time: number, method: string, url: string, httpVersion: string | undefined, host: string, status: number, bytes: number,
    referer: string | undefined, userAgent: string | undefined, state: string, durationMs: number, originMs: number | undefined, id: number): void {
    this.reserve(remote.length + method.length + url.length + (httpVersion?.length ?? 3) + host.length
      + (referer?.length ?? 0) + (userAgent?.length ?? 0) + state.length)
    if (this.format === 'json') this.json(remote, time, method, url, host, status, bytes, referer, userAgent, state, durationMs, originMs, id)
    else this.combined(remote, time, method, url, httpVersion, status, bytes, referer, userAgent, state, durationMs)
    this.length++
  }

  /** The batch's lines as UTF-8, each ending in a newline; the batch is emptied (the bytes are handed over, a new buffer takes their place). */
  take(): Buffer {
    const out = this.buf.subarray(0, this.pos)
    this.buf = Buffer.allocUnsafe(BUFFER_BYTES)
    this.pos = 0
    this.length = 0
    return out
  }

  /** Makes room for a line of `chars` characters at most (a character takes at most 6 bytes: `\xNNNN`, `\uNNNN`). */
  private reserve(chars: number): void {
    const need = this.pos + LINE_MAX_FIXED_BYTES + 6 * chars
    if (need <= this.buf.length) return
    const bigger = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2))
    this.buf.copy(bigger, 0, 0, this.pos)
    this.buf = bigger
  }

  /** `remote - - [time] "METHOD url HTTP/v" status bytes "referer" "agent" state seconds` */
  private combined(remote: string, time: number, method: string, url: string, httpVersion: string | undefined, status: number, bytes: number,
    referer: string | undefined, userAgent: string | undefined, state: string, durationMs: number): void {
    this.copy(combinedPrefix(remote, time))
    this.escaped(method)
    this.byte(0x20)
    this.escaped(url)
    if (httpVersion === undefined || httpVersion === '1.1') this.copy(HTTP_1_1)
    else {
      this.copy(HTTP_SLASH)
      this.escaped(httpVersion)
      this.copy(QUOTE_SPACE)
    }
    this.number(status, false)
    this.byte(0x20)
    if (bytes > 0) this.number(bytes, false)
    else this.byte(0x2d)
    this.byte(0x20)
    if (referer === undefined && userAgent === undefined) this.copy(NO_REFERER_NO_AGENT)
    else {
      this.quoted(referer)
      this.byte(0x20)
      this.quoted(userAgent)
      this.byte(0x20)
    }
    this.raw(state)
    this.byte(0x20)
    this.seconds(durationMs)
    this.byte(0x0a)
  }

  /** The JSON.stringify of the record's object, its keys in this order, absent ones left out. */
  private json(remote: string, time: number, method: string, url: string, host: string, status: number, bytes: number,
    referer: string | undefined, userAgent: string | undefined, state: string, durationMs: number, originMs: number | undefined, id: number): void {
    this.copy(JSON_TIME)
    this.isoTime(time)
    this.jsonField(JSON_REMOTE, remote, false)
    this.jsonField(JSON_METHOD, method, false)
    this.jsonField(JSON_HOST, host, true)
    this.jsonField(JSON_URL, url, true)
    this.copy(JSON_STATUS)
    this.number(status, true)
    this.copy(JSON_BYTES)
    this.number(bytes, true)
    this.jsonField(JSON_STATE, state, false)
    this.copy(JSON_MS)
    this.milliseconds(durationMs)
    if (originMs !== undefined && !Number.isNaN(originMs)) {
      this.copy(JSON_ORIGIN_MS)
      this.milliseconds(originMs)
    }
    this.jsonField(JSON_REFERER, referer, true)
    this.jsonField(JSON_USER_AGENT, userAgent, true)
    this.copy(JSON_ID)
    this.number(id, true)
    this.copy(JSON_END)
  }

  /** `key` and the field's JSON string; nothing when the field is absent (JSON.stringify leaves it out). */
  private jsonField(key: Uint8Array, text: string | undefined, isHeader: boolean): void {
    if (text === undefined) return
    this.copy(key)
    this.jsonString(text, isHeader)
  }

  /** `new Date(ms).toISOString()` */
  private isoTime(ms: number): void {
    if (!Number.isInteger(ms) || ms < 0 || ms > LAST_ISO_MS) return this.raw(new Date(ms).toISOString())
    const second = Math.floor(ms / 1000)
    this.copy(isoSecondBytes(second))
    this.digits(ms - second * 1000, 3)
    this.byte(0x5a)
  }

  private byte(c: number): void {
    this.buf[this.pos++] = c
  }

  /**
   * Bytes made before (a field's constant text, the time once per second), no string read: a
   * few byte by byte, more by one native copy (a loop costs about 1 ns a byte, the call ~20 ns).
   */
  private copy(bytes: Uint8Array): void {
    const buf = this.buf
    let pos = this.pos
    if (bytes.length > 16) {
      buf.set(bytes, pos)
      this.pos = pos + bytes.length
      return
    }
    for (let k = 0; k < bytes.length; k++) buf[pos++] = bytes[k]!
    this.pos = pos
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
    if (text === undefined || text === '') return this.copy(QUOTED_DASH)
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
    if (n >= 100 && n <= 999 && Number.isInteger(n)) {
      // a status: three digits, no loop
      const buf = this.buf
      const pos = this.pos
      const hundreds = (n / 100) | 0
      const tens = ((n - hundreds * 100) / 10) | 0
      buf[pos] = 0x30 + hundreds
      buf[pos + 1] = 0x30 + tens
      buf[pos + 2] = 0x30 + n - hundreds * 100 - tens * 10
      this.pos = pos + 3
      return
    }
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
}

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0))
const HTTP_SLASH = ascii(' HTTP/')
const HTTP_1_1 = ascii(' HTTP/1.1" ')
const QUOTE_SPACE = ascii('" ')
const NO_REFERER_NO_AGENT = ascii('"-" "-" ')
const JSON_TIME = ascii('{"time":"')
const JSON_REMOTE = ascii('","remote":')
const JSON_METHOD = ascii(',"method":')
const JSON_HOST = ascii(',"host":')
const JSON_URL = ascii(',"url":')
const JSON_STATUS = ascii(',"status":')
const JSON_BYTES = ascii(',"bytes":')
const JSON_STATE = ascii(',"state":')
const JSON_MS = ascii(',"ms":')
const JSON_ORIGIN_MS = ascii(',"originMs":')
const JSON_REFERER = ascii(',"referer":')
const JSON_USER_AGENT = ascii(',"userAgent":')
const JSON_ID = ascii(',"id":')
const JSON_END = ascii('}\n')
const QUOTED_DASH = ascii('"-"')

let prefixRemote = ''
let prefixSecond = -1
let prefixBytes: Uint8Array = new Uint8Array(0)

/**
 * `remote - - [time] "` as bytes, made again when the address or the second changes (a
 * connection's requests come from one address). An address is ASCII; one that is not (it never
 * comes from a socket) is written as UTF-8, as the per-character path did.
 */
function combinedPrefix(remote: string, ms: number): Uint8Array {
  const second = Math.floor(ms / 1000)
  if (second === prefixSecond && remote === prefixRemote) return prefixBytes
  prefixRemote = remote
  prefixSecond = second
  prefixBytes = new Uint8Array(Buffer.from(`${remote === '' ? '-' : remote} - - ${clfTime(ms)} "`, 'utf8'))
  return prefixBytes
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
let isoBytes: Uint8Array = new Uint8Array(0)

/** The first 20 characters of `new Date(ms).toISOString()` (up to the milliseconds) as bytes, made once per second. */
function isoSecondBytes(second: number): Uint8Array {
  if (second !== isoSecond) {
    isoSecond = second
    isoBytes = ascii(new Date(second * 1000).toISOString().slice(0, 20))
  }
  return isoBytes
}

/** Header bytes (latin1 chars) read as the UTF-8 they usually are, for JSON. */
function utf8(value: string): string {
  return /[\x80-\xff]/.test(value) ? Buffer.from(value, 'latin1').toString('utf8') : value
}
