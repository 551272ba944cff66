/**
 * Unit tests for esi/parser: each ESI 1.0 element (§3.1–§3.8), variables in vars and
 * attributes (§4), the choices for malformed markup (warnings, best-effort tree), limits,
 * chunk boundaries at every byte, and the stored form (esi/codec).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { decodeDocument, encodeDocument, textBytes } from './codec.js'
import { EsiParser, parseEsi, decodeEntities, type EsiDocument, type EsiNode, type EsiParserOptions } from './parser.js'
import { formatVariableRef, type Template } from './variables.js'

function tpl(t: Template): string {
  return t.map((p) => (typeof p === 'string' ? p : formatVariableRef(p))).join('')
}

/** A compact, readable rendering of a node list for assertions. */
export function show(nodes: readonly EsiNode[]): string {
  return nodes.map((n) => {
    switch (n.type) {
      case 'text': return n.bytes.toString('utf8')
      case 'var': return `{${formatVariableRef(n.ref)}}`
      case 'include': return `[include ${tpl(n.src)}${n.alt ? ` alt=${tpl(n.alt)}` : ''}${n.continueOnError ? ' continue' : ''}${n.isOverLimit ? ' OVER' : ''}]`
      case 'try': return `[try attempt(${show(n.attempt)}) except(${show(n.except)})]`
      case 'choose': return `[choose ${n.whens.map((w) => `when(${w.test.ok ? w.test.source : `ERR:${w.test.source}`})(${show(w.children)})`).join(' ')}${n.otherwise ? ` otherwise(${show(n.otherwise)})` : ''}]`
    }
  }).join('')
}

function parse(input: string | Buffer, options?: EsiParserOptions): EsiDocument {
  return parseEsi(input, options)
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
const codes = (doc: EsiDocument): string[] => doc.warnings.map((w) => w.code)

describe('text', () => {
  test('a document without ESI is one text node, byte for byte', () => {
    const html = '<html><body class="x">a < b, <!-- c --> <e <es <esi <esi-x <!--es $(HTTP_HOST) --></body></html>'
    const doc = parse(html)
    assert.equal(doc.nodes.length, 1)
    assert.equal(show(doc.nodes), html)
    assert.deepEqual(doc.warnings, [])
    assert.equal(doc.isPlain, true)
  })

  test('binary bytes and invalid UTF-8 pass through unchanged', () => {
    const bytes = Buffer.from([0, 1, 0xff, 0xfe, 0x3c, 0x80, 0x3c, 0x21, 0xc3, 0x28, 0x24, 0x28])
    const doc = parse(bytes)
    assert.deepEqual((doc.nodes[0] as { bytes: Buffer }).bytes, bytes)
  })

  test('an empty document has no nodes', () => {
    assert.deepEqual(parse('').nodes, [])
    assert.equal(parse('').isPlain, true)
  })
})

describe('esi:include (§3.1)', () => {
  test('src, alt and onerror="continue"', () => {
    const doc = parse('a<esi:include src="http://example.com/1.html" alt="http://bak.example.com/2.html" onerror="continue"/>b')
    assert.equal(show(doc.nodes), 'a[include http://example.com/1.html alt=http://bak.example.com/2.html continue]b')
    assert.deepEqual(doc.warnings, [])
    assert.equal(doc.includeCount, 1)
    assert.equal((doc.nodes[1] as { offset: number }).offset, 1)
  })

  test('variables in src (§3.1 second example) and entities decoded', () => {
    const doc = parse(`<esi:include src="/search?query=$(QUERY_STRING{query})&amp;x=1" alt='/$(HTTP_COOKIE{id}|default).html' />`)
    assert.equal(show(doc.nodes), "[include /search?query=$(QUERY_STRING{query})&x=1 alt=/$(HTTP_COOKIE{id}|'default').html]")
    const include = doc.nodes[0] as { src: Template }
    assert.deepEqual(include.src[1], { name: 'QUERY_STRING', key: 'query' })
  })

  test('a ">" inside a quoted attribute does not end the tag', () => {
    assert.equal(show(parse('<esi:include src="/a?b=>"/>x').nodes), '[include /a?b=>]x')
  })

  test('without src it is dropped with a warning; bad onerror and unknown attributes are ignored with warnings', () => {
    let doc = parse('a<esi:include alt="/x"/>b')
    assert.equal(show(doc.nodes), 'ab')
    assert.deepEqual(codes(doc), ['missing-attribute'])
    doc = parse('<esi:include src="/a" onerror="stop" ttl="5m"/>')
    assert.equal(show(doc.nodes), '[include /a]')
    assert.deepEqual(codes(doc).sort(), ['bad-onerror', 'unknown-attribute'])
  })

  test('without "/>" or with an end tag it is accepted with a warning', () => {
    const doc = parse('<esi:include src="/a"></esi:include>|<esi:include src="/b">')
    assert.equal(show(doc.nodes), '[include /a]|[include /b]')
    assert.deepEqual(codes(doc), ['empty-element-form', 'empty-element-form', 'empty-element-form'])
  })

  test('unquoted, valueless and repeated attributes', () => {
    const doc = parse('<esi:include src=/a src="/b" onerror/>')
    assert.equal(show(doc.nodes), '[include /a]')
    assert.deepEqual(codes(doc), ['bad-attribute', 'bad-attribute', 'bad-attribute', 'bad-onerror'])
  })

  test('upper-case names are not ESI 1.0 (§3: always lower-case)', () => {
    const doc = parse('<esi:Include src="/a"/><esi:include SRC="/a"/>')
    assert.equal(show(doc.nodes), '')
    assert.deepEqual(codes(doc), ['unknown-element', 'unknown-attribute', 'missing-attribute'])
  })
})

describe('esi:comment, esi:remove, <!--esi (§3.5, §3.6, §3.8)', () => {
  test('comment is removed', () => {
    const doc = parse('a<esi:comment text="the following animation will have a 24 hr TTL."/>b')
    assert.equal(show(doc.nodes), 'ab')
    assert.deepEqual(doc.warnings, [])
  })

  test('remove drops its content, ESI inside included (no nested ESI, §3.6)', () => {
    const doc = parse('<esi:include src="/ad.html"/>\n<esi:remove>\n  <a href="http://www.example.com">x</a><esi:include src="/no"/>\n</esi:remove>!')
    assert.equal(show(doc.nodes), '[include /ad.html]\n!')
    assert.equal(doc.includeCount, 1)
  })

  test('<!--esi … --> keeps and processes its content (§3.8 example)', () => {
    const doc = parse('<!--esi  \n  <p><esi:vars>Hello, $(HTTP_COOKIE{name})!</esi:vars></p>\n-->')
    assert.equal(show(doc.nodes), '  \n  <p>Hello, {$(HTTP_COOKIE{name})}!</p>\n')
    assert.deepEqual(doc.warnings, [])
  })

  test('<!--esi needs whitespace or --> after it; <!--esinfo is an ordinary comment', () => {
    assert.equal(show(parse('<!--esi-->x').nodes), 'x')
    assert.equal(show(parse('<!--esinfo <esi:include src="/a"/> -->').nodes), '<!--esinfo <esi:include src="/a"/> -->')
  })

  test('ordinary HTML comments and CDATA are opaque: ESI inside is not processed', () => {
    const html = '<!-- <esi:include src="/old"/> --><![CDATA[ <esi:remove> ]]>'
    const doc = parse(html)
    assert.equal(show(doc.nodes), html)
    assert.equal(doc.includeCount, 0)
  })

  test('an ordinary comment inside <!--esi is skipped whole', () => {
    assert.equal(show(parse('<!--esi a<!-- b -->c -->d').nodes), ' a<!-- b -->c d')
  })

  test('"-->" outside <!--esi is text', () => {
    assert.equal(show(parse('a --> b').nodes), 'a --> b')
  })
})

describe('esi:vars (§3.7) and variables in text (§4)', () => {
  test('references are read only inside vars', () => {
    const doc = parse('$(HTTP_HOST) <esi:vars><img src="http://www.example.com/$(HTTP_COOKIE{type})/hello.gif"/></esi:vars>')
    assert.equal(show(doc.nodes), '$(HTTP_HOST) <img src="http://www.example.com/{$(HTTP_COOKIE{type})}/hello.gif"/>')
  })

  test('defaults, quoted defaults, lists; a "$" that starts no reference is text', () => {
    const doc = parse("<esi:vars>$(HTTP_COOKIE{first_name}|'new user') $(HTTP_ACCEPT_LANGUAGE{en-gb}) $5 $(lower) $( $(HTTP_HOST</esi:vars>")
    assert.equal(show(doc.nodes), "{$(HTTP_COOKIE{first_name}|'new user')} {$(HTTP_ACCEPT_LANGUAGE{en-gb})} $5 $(lower) $( $(HTTP_HOST")
  })

  test('unknown variables and keys on plain variables are warned about', () => {
    const doc = parse('<esi:vars>$(FOO) $(HTTP_HOST{x}) $(HTTP_USER_AGENT{browser})</esi:vars>')
    assert.deepEqual(codes(doc), ['bad-variable', 'bad-variable'])
  })

  test('ESI elements inside vars still work', () => {
    assert.equal(show(parse('<esi:vars>a<esi:include src="/x?h=$(HTTP_HOST)"/>b</esi:vars>').nodes), 'a[include /x?h=$(HTTP_HOST)]b')
  })

  test('a default may hold UTF-8 and markup characters', () => {
    assert.equal(show(parse("<esi:vars>$(HTTP_COOKIE{n}|'<b>é</b>')</esi:vars>").nodes), "{$(HTTP_COOKIE{n}|'<b>é</b>')}")
  })
})

describe('esi:try (§3.4)', () => {
  test('attempt and except', () => {
    const doc = parse('<esi:try>\n <esi:attempt><esi:comment text="ad"/><esi:include src="/ad1.html"/></esi:attempt>\n <esi:except>static</esi:except>\n</esi:try>')
    assert.equal(show(doc.nodes), '[try attempt([include /ad1.html]) except(static)]')
    assert.deepEqual(doc.warnings, [])
  })

  test('nested try, and try inside <!--esi', () => {
    const doc = parse('<!--esi <esi:try><esi:attempt><esi:try><esi:attempt>a</esi:attempt><esi:except>b</esi:except></esi:try></esi:attempt><esi:except>c</esi:except></esi:try> -->')
    assert.equal(show(doc.nodes), ' [try attempt([try attempt(a) except(b)]) except(c)] ')
  })

  test('missing except, missing attempt, repeated branches, stray content', () => {
    let doc = parse('<esi:try><esi:attempt>a</esi:attempt></esi:try>')
    assert.equal(show(doc.nodes), '[try attempt(a) except()]')
    assert.deepEqual(codes(doc), ['invalid-structure'])
    doc = parse('<esi:try>junk<esi:attempt>a</esi:attempt><esi:attempt>b</esi:attempt><esi:except>c</esi:except></esi:try>')
    assert.equal(show(doc.nodes), '[try attempt(a) except(c)]')
    assert.deepEqual(codes(doc).sort(), ['invalid-structure', 'misplaced-element'])
    doc = parse('<esi:try><esi:except>c</esi:except></esi:try>')
    assert.equal(show(doc.nodes), '[try attempt() except(c)]')
  })

  test('attempt outside try keeps its content; except outside try is dropped', () => {
    const doc = parse('<esi:attempt>a<esi:include src="/x"/></esi:attempt>|<esi:except>b<esi:include src="/y"/></esi:except>|')
    assert.equal(show(doc.nodes), 'a[include /x]||')
    assert.deepEqual(codes(doc), ['misplaced-element', 'misplaced-element'])
    assert.equal(doc.includeCount, 1)
  })
})

describe('esi:choose (§3.3)', () => {
  test('whens in order and otherwise; tests parsed (§5)', () => {
    const doc = parse(`<esi:choose>
  <esi:when test="$(HTTP_COOKIE{group})=='Advanced'"><esi:include src="/advanced.html"/></esi:when>
  <esi:when test="$(HTTP_COOKIE{group})=='Basic User'"><esi:include src="/basic.html"/></esi:when>
  <esi:otherwise><esi:include src="/new_user.html"/></esi:otherwise>
</esi:choose>`)
    assert.equal(show(doc.nodes), "[choose when($(HTTP_COOKIE{group})=='Advanced')([include /advanced.html]) when($(HTTP_COOKIE{group})=='Basic User')([include /basic.html]) otherwise([include /new_user.html])]")
    assert.deepEqual(doc.warnings, [])
  })

  test('a bad expression is kept as an error and warned about; a missing test too', () => {
    const doc = parse('<esi:choose><esi:when test="(1 & 4)">a</esi:when><esi:when>b</esi:when></esi:choose>')
    assert.equal(show(doc.nodes), '[choose when(ERR:(1 & 4))(a) when(ERR:)(b)]')
    assert.deepEqual(codes(doc), ['bad-expression', 'missing-attribute'])
  })

  test('entities in the test are decoded', () => {
    const doc = parse('<esi:choose><esi:when test="$(QUERY_STRING{n}) &lt; 3">a</esi:when></esi:choose>')
    const choose = doc.nodes[0] as { whens: Array<{ test: { ok: boolean; source: string } }> }
    assert.equal(choose.whens[0]!.test.ok, true)
    assert.equal(choose.whens[0]!.test.source, '$(QUERY_STRING{n}) < 3')
  })

  test('when outside choose is a one-branch choose; otherwise outside choose keeps its content', () => {
    const doc = parse("<esi:when test=\"1==1\">a</esi:when><esi:otherwise>b</esi:otherwise>")
    assert.equal(show(doc.nodes), '[choose when(1==1)(a)]b')
    assert.deepEqual(codes(doc), ['misplaced-element', 'misplaced-element'])
  })

  test('stray content dropped, second otherwise ignored, choose without when', () => {
    let doc = parse('<esi:choose>x<esi:include src="/i"/><esi:when test="1==1">a</esi:when><esi:otherwise>b</esi:otherwise><esi:otherwise>c</esi:otherwise></esi:choose>')
    assert.equal(show(doc.nodes), '[choose when(1==1)(a) otherwise(b)]')
    assert.deepEqual(codes(doc).sort(), ['invalid-structure', 'misplaced-element'])
    doc = parse('<esi:choose><esi:otherwise>b</esi:otherwise></esi:choose><esi:choose> </esi:choose>')
    assert.equal(show(doc.nodes), '[choose  otherwise(b)]')
    assert.deepEqual(codes(doc), ['invalid-structure', 'invalid-structure'])
  })
})

describe('malformed markup', () => {
  test('unknown elements: tags dropped, content kept; esi:inline likewise', () => {
    const doc = parse('<esi:foo a="1">x</esi:foo><esi:inline name="/f" fetchable="no">y</esi:inline>')
    assert.equal(show(doc.nodes), 'xy')
    assert.deepEqual(codes(doc), ['unknown-element', 'unknown-element', 'unsupported-element'])
  })

  test('stray end tags are dropped', () => {
    const doc = parse('a</esi:try></esi:remove>b')
    assert.equal(show(doc.nodes), 'ab')
    assert.deepEqual(codes(doc), ['stray-end-tag', 'stray-end-tag'])
  })

  test('unclosed elements close at the end, or at an enclosing end tag', () => {
    let doc = parse('<esi:try><esi:attempt>a<esi:vars>$(HTTP_HOST)')
    assert.equal(show(doc.nodes), '[try attempt(a{$(HTTP_HOST)}) except()]')
    assert.deepEqual(codes(doc), ['unclosed-element', 'unclosed-element', 'unclosed-element', 'invalid-structure'])
    doc = parse('<esi:try><esi:attempt>a</esi:try>b')
    assert.equal(show(doc.nodes), '[try attempt(a) except()]b')
    assert.deepEqual(codes(doc), ['unclosed-element', 'invalid-structure'])
    assert.equal(doc.warnings[0]!.offset, 9)
  })

  test('an unclosed <!--esi ends at the end of the document', () => {
    const doc = parse('<!--esi a<esi:include src="/x"/>')
    assert.equal(show(doc.nodes), ' a[include /x]')
    assert.deepEqual(codes(doc), ['unclosed-element'])
  })

  test('an unclosed esi:remove loses only its start tag: its content is parsed', () => {
    const doc = parse('a<esi:remove>b<esi:include src="/x"/>c')
    assert.equal(show(doc.nodes), 'ab[include /x]c')
    assert.deepEqual(codes(doc), ['unclosed-element'])
    assert.equal(doc.warnings[0]!.offset, 1)
  })

  test('an unclosed HTML comment stays text, with a warning', () => {
    const doc = parse('a<!-- b <esi:include src="/x"/>')
    assert.equal(show(doc.nodes), 'a<!-- b <esi:include src="/x"/>')
    assert.deepEqual(codes(doc), ['unclosed-comment'])
  })

  test('a tag with no ">" is text; an open quote falls back to the first ">"', () => {
    let doc = parse('a<esi:include src="/x"')
    assert.equal(show(doc.nodes), 'a<esi:include src="/x"')
    assert.deepEqual(codes(doc), ['malformed-tag'])
    doc = parse('<esi:include src="/x/>b')
    assert.equal(show(doc.nodes), '[include /x]b')
    assert.deepEqual(codes(doc), ['bad-attribute'])
    doc = parse('a</esi:try')
    assert.equal(show(doc.nodes), 'a</esi:try')
    assert.deepEqual(codes(doc), ['malformed-tag'])
  })

  test('a tag longer than maxTagBytes is text', () => {
    const long = `<esi:include src="/${'a'.repeat(100)}"/>`
    const doc = parse(long, { maxTagBytes: 50 })
    assert.equal(show(doc.nodes), long)
    assert.deepEqual(codes(doc), ['malformed-tag'])
    assert.equal(show(parse(long, { maxTagBytes: 200 }).nodes), `[include /${'a'.repeat(100)}]`)
  })

  test('never throws on hostile input', () => {
    for (const input of ['<esi:', '</esi:', '<esi:constructor>', '</esi:constructor>', '<esi:__proto__ a=1>', '<esi:toString/>', '<esi:when test="\u0000">', '<esi:vars>$(', '<!--esi', '<!--esi -', '<![CDATA[', '<esi:remove>']) {
      assert.doesNotThrow(() => parse(input), input)
    }
  })
})

describe('limits', () => {
  test('maxIncludes: later includes are kept but refused', () => {
    const doc = parse('<esi:include src="/1"/><esi:include src="/2"/><esi:include src="/3"/>', { maxIncludes: 2 })
    assert.equal(show(doc.nodes), '[include /1][include /2][include /3 OVER]')
    assert.deepEqual(codes(doc), ['too-many-includes'])
    assert.equal(doc.includeCount, 3)
  })

  test('maxNestingDepth: a too-deep element is dropped with its content', () => {
    const doc = parse('<esi:vars><esi:vars><esi:vars>deep<esi:include src="/x"/></esi:vars>mid</esi:vars>top</esi:vars>', { maxNestingDepth: 2 })
    assert.equal(show(doc.nodes), 'midtop')
    assert.deepEqual(codes(doc), ['too-deep'])
    assert.equal(doc.includeCount, 0)
  })

  test('a hundred thousand nested tries overflow nothing: one too-deep warning, the rest dropped', () => {
    const doc = parse('<esi:try>'.repeat(100_000) + 'QQ' + '</esi:try>'.repeat(100_000))
    assert.equal(codes(doc).filter((c) => c === 'too-deep').length, 1)
    assert.ok(!show(doc.nodes).includes('QQ'))
    assert.ok(!codes(doc).includes('unclosed-element') && !codes(doc).includes('stray-end-tag'))
  })

  test('regression: bytes that look like markup but are not cost linear time (was 10 s for 10 MB of "<")', () => {
    for (const unit of ['<', '<e', '<!', '$', '$(', '-']) {
      const body = Buffer.from(`<!--esi <esi:vars>${unit.repeat(1_000_000 / unit.length)}</esi:vars> -->`)
      const started = performance.now()
      const p = new EsiParser()
      for (let i = 0; i < body.length; i += 4096) p.write(body.subarray(i, i + 4096))
      const doc = p.end()
      assert.equal(doc.nodes.length, 1, unit)
      assert.ok(performance.now() - started < 1500, `${unit}: ${performance.now() - started} ms`)
    }
    const started = performance.now()
    const doc = parseEsi(`<!--esi <esi:vars>${'<'.repeat(1_000_000)}$(HTTP_HOST)</esi:vars> -->`) // one chunk, `$` and `-->` far away
    assert.equal(doc.nodes.length, 3) // text, the variable, text
    assert.ok(performance.now() - started < 1500, `one chunk: ${performance.now() - started} ms`)
  })

  test('maxWarnings: the rest are counted', () => {
    const doc = parse('</esi:try>'.repeat(10), { maxWarnings: 3 })
    assert.deepEqual(codes(doc), ['stray-end-tag', 'stray-end-tag', 'stray-end-tag', 'too-many-warnings'])
    assert.match(doc.warnings[3]!.message, /^7 more warnings/)
  })
})

const SAMPLE = `<html>é—<esi:include src="/a?x=1&amp;y=2" alt="/b" onerror="continue"/>
<esi:remove>no <esi:include src="/no"/></esi:remove><!--esi <p><esi:vars>Hi $(HTTP_COOKIE{name}|'new user')! $(HTTP_HOST)</esi:vars></p> -->
<esi:try><esi:attempt><esi:include src="/ad"/></esi:attempt><esi:except>static</esi:except></esi:try>
<esi:choose><esi:when test="$(HTTP_COOKIE{group}) == 'A' &amp; 2 > 1">adv</esi:when><esi:otherwise>other</esi:otherwise></esi:choose>
<!-- <esi:include src="/c"/> --><![CDATA[x]]> <esi:foo> </esi:bar> <esi:comment text="x"/> -- $ <esi <!-x</html>`

describe('chunk boundaries', () => {
  const whole = encodeDocument(parse(SAMPLE))

  test('every split into two chunks gives the same document', () => {
    const bytes = Buffer.from(SAMPLE)
    for (let i = 0; i <= bytes.length; i++) {
      const p = new EsiParser()
      p.write(bytes.subarray(0, i))
      p.write(bytes.subarray(i))
      assert.ok(encodeDocument(p.end()).equals(whole), `split at ${i}`)
    }
  })

  test('byte-by-byte feeding gives the same document, and write() streams top-level nodes', () => {
    const bytes = Buffer.from(SAMPLE)
    const p = new EsiParser()
    const streamed: EsiNode[] = []
    for (let i = 0; i < bytes.length; i++) streamed.push(...p.write(bytes.subarray(i, i + 1)))
    const doc = p.end()
    streamed.push(...p.tail)
    assert.ok(encodeDocument(doc).equals(whole))
    assert.equal(show(mergeText(streamed)), show(doc.nodes))
    assert.ok(streamed.length > doc.nodes.length, 'text comes out in pieces as it arrives')
  })

  test('text is emitted before the document ends', () => {
    const p = new EsiParser()
    assert.equal(show(p.write('hello <')), 'hello ')
    assert.equal(show(p.write('esi:include src="/x"/> wor')), '[include /x] wor')
    assert.equal(show(p.write('<esi:try><esi:attempt>')), '')
    assert.equal(show(p.write('a</esi:attempt></esi:try>')), '[try attempt(a) except()]')
    assert.equal(show(p.end().nodes), 'hello [include /x] wor[try attempt(a) except()]')
  })

  test('a UTF-8 character split across chunks is kept whole', () => {
    const p = new EsiParser()
    const e = Buffer.from('é')
    p.write(Buffer.concat([Buffer.from('a'), e.subarray(0, 1)]))
    p.write(Buffer.concat([e.subarray(1), Buffer.from('<esi:vars>$(HTTP_COOKIE{n}|\'')]))
    p.write(Buffer.concat([e.subarray(0, 1)]))
    p.write(Buffer.concat([e.subarray(1), Buffer.from("')</esi:vars>")]))
    assert.equal(show(p.end().nodes), "aé{$(HTTP_COOKIE{n}|'é')}")
  })

  test('writes after end() are ignored; end() is idempotent', () => {
    const p = new EsiParser()
    p.write('a')
    const doc = p.end()
    assert.deepEqual(p.write('b'), [])
    assert.equal(p.end(), doc)
  })
})

describe('codec', () => {
  test('round trip keeps every node and byte', () => {
    const doc = parse(SAMPLE)
    const back = decodeDocument(encodeDocument(doc))!
    assert.equal(show(back.nodes), show(doc.nodes))
    assert.deepEqual(back.warnings, doc.warnings)
    assert.equal(back.includeCount, doc.includeCount)
    assert.ok(encodeDocument(back).equals(encodeDocument(doc)))
    assert.equal(textBytes(back.nodes), textBytes(doc.nodes))
  })

  test('binary text survives', () => {
    const bytes = Buffer.from([0, 0xff, 0x7b, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22])
    const back = decodeDocument(encodeDocument(parse(bytes)))!
    assert.deepEqual((back.nodes[0] as { bytes: Buffer }).bytes, bytes)
  })

  test('anything else decodes to undefined, never throws', () => {
    const good = encodeDocument(parse('a<esi:include src="/x"/>b'))
    assert.equal(decodeDocument(Buffer.from('nope')), undefined)
    assert.equal(decodeDocument(good.subarray(0, 10)), undefined)
    const lying = Buffer.from(good)
    lying.writeUInt32BE(1, 4)
    assert.equal(decodeDocument(lying), undefined)
    assert.equal(decodeDocument(Buffer.concat([good.subarray(0, 8), Buffer.from('{"nodes":[{"type":"text","at":0,"length":99}],"warnings":[]}')])), undefined)
  })
})

test('decodeEntities decodes the XML entities and character references only', () => {
  assert.equal(decodeEntities('a&amp;b&lt;&gt;&quot;&apos;&#65;&#x42;&nbsp;&#0;&#xD800;&'), 'a&b<>"\'AB&nbsp;&#0;&#xD800;&')
})
