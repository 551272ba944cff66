/**
 * The batch formatters write exactly what the per-record formatters they replaced wrote (kept
 * here, verbatim, as the reference), on generated records: escapes, non-ASCII bytes, absent
 * fields, dates across seconds and durations on rounding ties.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { prng } from '../../test/helpers/prng.js'
import { AccessLogBatch, CAPACITY } from './access-log-batch.js'
import type { AccessRecord } from './access-log.js'

// ---- the reference: src/observe/access-log.ts before batching (commit 255cab7) ----
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
function formatClfTime(ms: number): string {
  const d = new Date(ms)
  const p = (n: number) => String(n).padStart(2, '0')
  return `[${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000]`
}
function quoted(value: string | undefined): string {
  if (value === undefined || value === '') return '"-"'
  // eslint-disable-next-line no-control-regex
  if (!/[\x00-\x1f"\\\x7f-\uffff]/.test(value)) return `"${value}"`
  // eslint-disable-next-line no-control-regex
  return `"${value.replace(/["\\]/g, '\\$&').replace(/[\x00-\x1f\x7f-\uffff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)}"`
}
function utf8(value: string | undefined): string | undefined {
  return value === undefined || !/[\x80-\xff]/.test(value) ? value : Buffer.from(value, 'latin1').toString('utf8')
}
function formatCombined(r: AccessRecord): string {
  const bytes = r.bytes > 0 ? String(r.bytes) : '-'
  return `${r.remote || '-'} - - ${formatClfTime(r.time)} ${quoted(`${r.method} ${r.url} HTTP/${r.httpVersion ?? '1.1'}`)} ${r.status} ${bytes} ${quoted(r.referer)} ${quoted(r.userAgent)} ${r.state} ${(r.durationMs / 1000).toFixed(6)}`
}
function formatJson(r: AccessRecord): string {
  return JSON.stringify({
    time: new Date(r.time).toISOString(), remote: r.remote, method: r.method, host: utf8(r.host), url: utf8(r.url), status: r.status, bytes: r.bytes,
    state: r.state, ms: Math.round(r.durationMs * 1000) / 1000, ...(r.originMs === undefined ? {} : { originMs: Math.round(r.originMs * 1000) / 1000 }),
    referer: utf8(r.referer), userAgent: utf8(r.userAgent), id: r.id,
  })
}
// ---- end of the reference ----

const AGENTS = [undefined, '', 'curl/8.5.0', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  'evil "quoted" back\\slash\ttab', 'caf\xc3\xa9 latin1 bytes', 'del\x7f and nul\x00', 'wide \u20ac and \ud83d\ude00', 'lone \ud800 surrogate', '\xff\xfe']
const URLS = ['/', '/p/1', '/q?utm_source=news&b=2&a=1', '/a b"c\\d', '/caf\xc3\xa9', '/\x01ctl', `/${'x'.repeat(300)}`, '/%E2%82%AC']

function generate(rng: () => number, n: number): AccessRecord[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!
  let time = Date.UTC(2026, 11, 31, 23, 59, 58) + Math.floor(rng() * 10_000)
  return Array.from({ length: n }, (_, i) => {
    time += Math.floor(rng() * 400)
    const durationKind = rng()
    const durationMs = durationKind < 0.2 ? Math.floor(rng() * 200_000) * 0.0005 // ties at half a microsecond
      : durationKind < 0.3 ? 0
        : durationKind < 0.35 ? rng() * 1e8
          : rng() * (rng() < 0.5 ? 2 : 5000)
    return {
      remote: pick(['127.0.0.1', '', '::1', '2001:db8::7']), time, method: pick(['GET', 'HEAD', 'PURGE', '-', 'PO"ST']), url: pick(URLS),
      httpVersion: pick([undefined, '1.1', '1.0']), host: pick(['shop.example', '', 'h\xc3\xa9.example', '127.0.0.1:8080']), status: pick([200, 304, 404, 500, 502]),
      bytes: pick([0, 12, 1024, 1_000_000]), referer: pick(AGENTS), userAgent: pick(AGENTS), state: pick(['hit', 'miss', 'pass', 'synth']),
      durationMs, originMs: rng() < 0.5 ? undefined : rng() * 300, id: i,
    }
  })
}

function take(records: AccessRecord[], format: 'combined' | 'json', batch = new AccessLogBatch(format)): string {
  for (const r of records) batch.add(r.remote, r.time, r.method, r.url, r.httpVersion, r.host, r.status, r.bytes, r.referer, r.userAgent, r.state, r.durationMs, r.originMs, r.id)
  assert.equal(batch.length, records.length)
  return batch.take().toString('utf8')
}

for (const format of ['combined', 'json'] as const) {
  test(`${format}: a batch's text is the lines the per-record formatter wrote, byte for byte`, () => {
    const reference = format === 'json' ? formatJson : formatCombined
    for (let seed = 1; seed <= 20; seed++) {
      const records = generate(prng(seed), 500)
      const batch = new AccessLogBatch(format)
      // two batches through the same object: what the first left (memos, the reused buffer) does not leak into the second
      for (const part of [records.slice(0, 250), records.slice(250)]) {
        const text = take(part, format, batch)
        const got = text.split('\n')
        assert.equal(got.pop(), '', 'each line ends in a newline')
        assert.equal(got.length, part.length)
        part.forEach((r, i) => assert.equal(got[i], reference(r), `seed ${seed}, record ${JSON.stringify(r)}`))
        assert.ok(Buffer.from(text, 'utf8').equals(Buffer.from(`${part.map(reference).join('\n')}\n`, 'utf8')), 'the bytes are the UTF-8 of the reference lines')
      }
      assert.equal(batch.length, 0)
      assert.equal(batch.bytes, 0)
    }
  })
}

test('durations next to a rounding tie: the seconds are toFixed(6)\'s', () => {
  const records: AccessRecord[] = []
  for (let us = 0; us < 3000; us++) {
    for (const d of [-1e-9, -1e-12, 0, 1e-12, 1e-9]) {
      records.push({ remote: '1.2.3.4', time: 0, method: 'GET', url: '/', host: 'h', status: 200, bytes: 1, state: 'hit', durationMs: (us + 0.5) / 1000 + d, id: us })
    }
  }
  const lines: string[] = []
  for (let at = 0; at < records.length; at += CAPACITY) lines.push(...take(records.slice(at, at + CAPACITY), 'combined').trimEnd().split('\n'))
  records.forEach((r, i) => assert.equal(lines[i]!.slice(lines[i]!.lastIndexOf(' ') + 1), (r.durationMs / 1000).toFixed(6), String(r.durationMs)))
})

test('a full batch holds CAPACITY requests', () => {
  const records = generate(prng(7), CAPACITY)
  const batch = new AccessLogBatch('combined')
  assert.equal(take(records, 'combined', batch).split('\n').length, CAPACITY + 1)
})
