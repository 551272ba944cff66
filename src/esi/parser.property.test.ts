/**
 * Property test for esi/parser: thousands of seeded random documents mixing plain text, random
 * bytes, split UTF-8, well-formed and malformed ESI, each fed in several random chunkings.
 * Properties: the parser never throws; the document is identical (byte for byte in its
 * stored form) for every chunking; the nodes streamed by write() add up to the document;
 * a document with no ESI markup is reproduced exactly; text around well-formed ESI is
 * reproduced exactly; planning the result never throws. Seeded: a failure names its seed.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encodeDocument } from './codec.js'
import { EsiParser, parseEsi, type EsiDocument, type EsiNode } from './parser.js'
import { buildPlan } from './plan.js'
import { prng } from '../../test/helpers/prng.js'


type Rng = () => number
const int = (rng: Rng, n: number): number => Math.floor(rng() * n)
const pick = <T>(rng: Rng, list: readonly T[]): T => list[int(rng, list.length)]!

/** Text that holds no markup prefix at all (no `<`, `$` or `-`), with multi-byte UTF-8 and random high bytes. */
function safeText(rng: Rng): Buffer {
  const parts: Buffer[] = []
  const n = int(rng, 12)
  for (let i = 0; i < n; i++) {
    const r = rng()
    if (r < 0.5) parts.push(Buffer.from(pick(rng, ['a', 'hello ', '\n', ' ', 'é', '—', '日本', '😀', 'x=1&y=2', '"q"', "'s'", '>', 'esi:', '{', '}', '(', ')', '|'])))
    else if (r < 0.8) parts.push(Buffer.from([0x80 + int(rng, 0x80)]))
    else parts.push(Buffer.from([int(rng, 0x3c)]))
  }
  return Buffer.concat(parts)
}

/** Markup-like text: everything that is not ESI but looks close to it. */
const NEAR_MISSES = ['<', '<e', '<es', '<esi', '<esi ', '<esix:', '</es', '</esi', '<!', '<!-', '<!--', '<!-- c -->', '<!--esix -->', '<![CDATA[ <esi:include src="/c"/> ]]>', '-->', '--', '-', '$', '$(', '$(HTTP_HOST)', '<p class="a">', '</p>', '<!DOCTYPE html>', '<ESI:include src="/x"/>']

const WELL_FORMED = [
  '<esi:include src="/a"/>',
  '<esi:include src="/b?x=$(QUERY_STRING{x}|d)" alt="/c" onerror="continue" />',
  '<esi:comment text="c"/>',
  '<esi:remove><a href="/">x</a><esi:include src="/no"/></esi:remove>',
  '<!--esi <b>esi only</b> -->',
  '<esi:vars>Hi $(HTTP_COOKIE{name}|\'new user\') $(HTTP_ACCEPT_LANGUAGE{en})</esi:vars>',
  '<esi:try><esi:attempt><esi:include src="/t"/></esi:attempt><esi:except>fallback</esi:except></esi:try>',
  '<esi:choose><esi:when test="$(HTTP_COOKIE{g})==\'A\' | 1 &lt; 2">A</esi:when><esi:otherwise>O</esi:otherwise></esi:choose>',
]

const MALFORMED = [
  '<esi:include', '<esi:include src="/x', '<esi:include src=/x>', '<esi:include/>', '</esi:include>', '<esi:try>', '</esi:try>',
  '<esi:attempt>', '</esi:attempt>', '<esi:except>', '<esi:when test="(1 & 4)">', '<esi:when>', '</esi:when>', '<esi:choose>',
  '</esi:choose>', '<esi:otherwise>', '<esi:vars>', '</esi:vars>', '<esi:remove>', '</esi:remove>', '<esi:foo bar>', '</esi:foo>',
  '<!--esi ', '<esi:inline name="x">', '<esi:comment>', '<esi:when test="$(X) > \'', '<esi:>', '</esi:', '<esi:include src="a" src="b" o\'>',
]

function randomDocument(rng: Rng): Buffer {
  const parts: Buffer[] = []
  const n = 1 + int(rng, 14)
  for (let i = 0; i < n; i++) {
    const r = rng()
    if (r < 0.3) parts.push(safeText(rng))
    else if (r < 0.5) parts.push(Buffer.from(pick(rng, NEAR_MISSES)))
    else if (r < 0.7) parts.push(Buffer.from(pick(rng, WELL_FORMED)))
    else if (r < 0.9) parts.push(Buffer.from(pick(rng, MALFORMED)))
    else { const bytes = Buffer.alloc(int(rng, 8)); for (let k = 0; k < bytes.length; k++) bytes[k] = int(rng, 256); parts.push(bytes) }
  }
  return Buffer.concat(parts)
}

function chunk(rng: Rng, bytes: Buffer): Buffer[] {
  const out: Buffer[] = []
  let i = 0
  const style = int(rng, 3)
  while (i < bytes.length) {
    const size = style === 0 ? 1 + int(rng, 3) : style === 1 ? 1 + int(rng, 16) : 1 + int(rng, bytes.length)
    out.push(bytes.subarray(i, i + size))
    i += size
  }
  return out
}

function mergeText(nodes: readonly EsiNode[]): EsiNode[] {
  const out: EsiNode[] = []
  for (const n of nodes) {
    const last = out[out.length - 1]
    if (n.type === 'text' && last?.type === 'text') out[out.length - 1] = { type: 'text', bytes: Buffer.concat([last.bytes, n.bytes]) }
    else out.push(n)
  }
  return out
}

function textOf(nodes: readonly EsiNode[]): Buffer {
  return Buffer.concat(nodes.filter((n): n is Extract<EsiNode, { type: 'text' }> => n.type === 'text').map((n) => n.bytes))
}

const REQUEST = { url: '/p?x=1', headers: [['cookie', 'name=A; g=A'], ['accept-language', 'en']] as [string, string][] }
const CASES = 4000

test(`random documents in random chunkings (${CASES} documents, 3 chunkings each)`, () => {
  const started = performance.now()
  let plainCases = 0
  for (let seed = 1; seed <= CASES; seed++) {
    const rng = prng(seed)
    const bytes = randomDocument(rng)
    let whole: EsiDocument
    assert.doesNotThrow(() => { whole = parseEsi(bytes, { maxIncludes: 4, maxNestingDepth: 6, maxTagBytes: 64 }) }, `seed ${seed}`)
    const expected = encodeDocument(whole!)
    for (let k = 0; k < 3; k++) {
      const parser = new EsiParser({ maxIncludes: 4, maxNestingDepth: 6, maxTagBytes: 64 })
      const streamed: EsiNode[] = []
      for (const c of chunk(rng, bytes)) streamed.push(...parser.write(c))
      const doc = parser.end()
      streamed.push(...parser.tail)
      assert.ok(encodeDocument(doc).equals(expected), `seed ${seed}, chunking ${k}: differs from the whole-body parse`)
      assert.ok(encodeDocument({ ...doc, nodes: mergeText(streamed) }).equals(expected), `seed ${seed}, chunking ${k}: streamed nodes differ`)
    }
    if (!bytes.includes('<esi:') && !bytes.includes('</esi:') && !bytes.includes('<!--esi')) {
      plainCases++
      assert.ok(textOf(whole!.nodes).equals(bytes), `seed ${seed}: a document without ESI is not reproduced exactly`)
      assert.equal(whole!.nodes.length <= 1, true, `seed ${seed}`)
    }
    assert.doesNotThrow(() => buildPlan(whole!, REQUEST), `seed ${seed}: plan`)
  }
  assert.ok(plainCases > 300, `only ${plainCases} plain documents were generated`)
  assert.ok(performance.now() - started < 10_000, 'bounded in time')
})

test('text around well-formed, text-free ESI elements is reproduced exactly (2000 documents)', () => {
  const TEXT_FREE = [WELL_FORMED[0]!, WELL_FORMED[1]!, WELL_FORMED[2]!, WELL_FORMED[3]!, '<esi:try><esi:attempt><esi:include src="/t"/></esi:attempt><esi:except></esi:except></esi:try>']
  for (let seed = 1; seed <= 2000; seed++) {
    const rng = prng(100_000 + seed)
    const text: Buffer[] = []
    const doc: Buffer[] = []
    const n = 1 + int(rng, 8)
    for (let i = 0; i < n; i++) {
      const t = safeText(rng)
      text.push(t)
      doc.push(t, Buffer.from(pick(rng, TEXT_FREE)))
    }
    const bytes = Buffer.concat(doc)
    const parser = new EsiParser()
    for (const c of chunk(rng, bytes)) parser.write(c)
    const result = parser.end()
    assert.deepEqual(result.warnings, [], `seed ${seed}`)
    assert.ok(textOf(result.nodes).equals(Buffer.concat(text)), `seed ${seed}: the text between elements changed`)
  }
})
