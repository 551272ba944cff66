/**
 * Unit tests for esi/variables: the reference syntax (§4, §4.1, §4.2) and each ESI 1.0
 * variable's value from a request view (§4 table, §4.1.1 dictionaries, §4.1.2 lists).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  checkVariableRef, createVariableContext, formatVariableRef, parseTemplate, parseUserAgent, resolveVariable, scanVariableRef,
  variableText, type RequestView, type VariableRef,
} from './variables.js'

const request: RequestView = {
  url: '/p/1?first=Robin&last=Roberts&sp=a+b%20c&empty=&dup=1&dup=2#frag',
  headers: [
    ['host', 'esi.xyz.com'],
    ['referer', 'http://roberts.xyz.com/'],
    ['accept-language', 'da, en-GB;q=0.8, fr;q=0, de-CH'],
    ['cookie', 'id=571; visits=42'],
    ['cookie', 'visits=99; group=Basic User; quoted="x y"'],
    ['user-agent', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36'],
  ],
}
const ctx = () => createVariableContext(request)
const value = (ref: VariableRef) => resolveVariable(ref, ctx())

describe('scanVariableRef', () => {
  test('name, key, default and quoted default (§4, §4.1, §4.2)', () => {
    assert.deepEqual(scanVariableRef('$(HTTP_HOST)', 0), { kind: 'ok', ref: { name: 'HTTP_HOST' }, end: 12 })
    assert.deepEqual(scanVariableRef('x$(HTTP_COOKIE{visits})y', 1), { kind: 'ok', ref: { name: 'HTTP_COOKIE', key: 'visits' }, end: 23 })
    assert.deepEqual(scanVariableRef('$(HTTP_COOKIE{id}|default)', 0), { kind: 'ok', ref: { name: 'HTTP_COOKIE', key: 'id', default: 'default' }, end: 26 })
    assert.deepEqual(scanVariableRef("$(HTTP_COOKIE{first_name}|'new user')", 0).kind, 'ok')
    assert.deepEqual((scanVariableRef("$(HTTP_COOKIE{n}|'it\\'s )')", 0) as { ref: VariableRef }).ref.default, "it's )")
    assert.deepEqual((scanVariableRef("$(HTTP_COOKIE{'a b'})", 0) as { ref: VariableRef }).ref.key, 'a b')
    assert.deepEqual((scanVariableRef('$(HTTP_HOST|)', 0) as { ref: VariableRef }).ref.default, '')
    assert.deepEqual((scanVariableRef('$(HTTP_ACCEPT_LANGUAGE{en-gb})', 0) as { ref: VariableRef }).ref.key, 'en-gb')
  })

  test('invalid: lower-case names, empty keys, whitespace in an unquoted default, junk before ")"', () => {
    for (const text of ['$(http_host)', '$(HTTP_COOKIE{})', '$(HTTP_COOKIE{a b})', '$(HTTP_HOST|a b)', '$(HTTP_HOST x)', '$HTTP_HOST', '$(1A)', '$(HTTP_HOST}']) {
      assert.deepEqual(scanVariableRef(text, 0), { kind: 'invalid' }, text)
    }
  })

  test('incomplete when the text stops inside a reference (streaming needs to wait)', () => {
    for (const text of ['$', '$(', '$(HTTP', '$(HTTP_COOKIE{', '$(HTTP_COOKIE{a', '$(HTTP_COOKIE{a}', '$(HTTP_COOKIE{a}|', "$(HTTP_COOKIE{a}|'x", '$(HTTP_HOST|dflt', "$(HTTP_COOKIE{'k"]) {
      assert.deepEqual(scanVariableRef(text, 0), { kind: 'incomplete' }, text)
    }
  })
})

test('parseTemplate splits literals and references; a stray "$" is literal', () => {
  assert.deepEqual(parseTemplate('/search?q=$(QUERY_STRING{q})&h=$(HTTP_HOST)'), ['/search?q=', { name: 'QUERY_STRING', key: 'q' }, '&h=', { name: 'HTTP_HOST' }])
  assert.deepEqual(parseTemplate('/a$b$(x)$(HTTP_HOST'), ['/a$b$(x)$(HTTP_HOST'])
  assert.deepEqual(parseTemplate(''), [''])
  assert.deepEqual(parseTemplate('$(HTTP_HOST)'), [{ name: 'HTTP_HOST' }])
})

describe('values (§4)', () => {
  test('HTTP_HOST and HTTP_REFERER', () => {
    assert.equal(value({ name: 'HTTP_HOST' }), 'esi.xyz.com')
    assert.equal(value({ name: 'HTTP_REFERER' }), 'http://roberts.xyz.com/')
    assert.equal(value({ name: 'HTTP_HOST', key: 'x' }), undefined)
  })

  test('HTTP_COOKIE: whole and dictionary (§4.1.1, keys case-sensitive, first wins)', () => {
    assert.equal(value({ name: 'HTTP_COOKIE' }), 'id=571; visits=42; visits=99; group=Basic User; quoted="x y"')
    assert.equal(value({ name: 'HTTP_COOKIE', key: 'visits' }), '42')
    assert.equal(value({ name: 'HTTP_COOKIE', key: 'group' }), 'Basic User')
    assert.equal(value({ name: 'HTTP_COOKIE', key: 'quoted' }), '"x y"')
    assert.equal(value({ name: 'HTTP_COOKIE', key: 'ID' }), undefined)
    assert.equal(value({ name: 'HTTP_COOKIE', key: 'nope' }), undefined)
  })

  test('HTTP_ACCEPT_LANGUAGE: a list, true when present (§4.1.2); prefixes match, q=0 excluded', () => {
    assert.equal(value({ name: 'HTTP_ACCEPT_LANGUAGE' }), 'da, en-GB;q=0.8, fr;q=0, de-CH')
    assert.equal(value({ name: 'HTTP_ACCEPT_LANGUAGE', key: 'da' }), true)
    assert.equal(value({ name: 'HTTP_ACCEPT_LANGUAGE', key: 'en-gb' }), true)
    assert.equal(value({ name: 'HTTP_ACCEPT_LANGUAGE', key: 'en' }), true)
    assert.equal(value({ name: 'HTTP_ACCEPT_LANGUAGE', key: 'en-us' }), false)
    assert.equal(value({ name: 'HTTP_ACCEPT_LANGUAGE', key: 'fr' }), false)
    assert.equal(value({ name: 'HTTP_ACCEPT_LANGUAGE', key: 'd' }), false)
  })

  test('QUERY_STRING: whole (raw) and dictionary (decoded, first value)', () => {
    assert.equal(value({ name: 'QUERY_STRING' }), 'first=Robin&last=Roberts&sp=a+b%20c&empty=&dup=1&dup=2')
    assert.equal(value({ name: 'QUERY_STRING', key: 'first' }), 'Robin')
    assert.equal(value({ name: 'QUERY_STRING', key: 'sp' }), 'a b c')
    assert.equal(value({ name: 'QUERY_STRING', key: 'dup' }), '1')
    assert.equal(value({ name: 'QUERY_STRING', key: 'empty' }), '')
    assert.equal(value({ name: 'QUERY_STRING', key: 'none' }), undefined)
    assert.equal(resolveVariable({ name: 'QUERY_STRING' }, createVariableContext({ url: '/', headers: [] })), '')
  })

  test('HTTP_USER_AGENT: whole and the three special keys (§4.1.1)', () => {
    assert.match(value({ name: 'HTTP_USER_AGENT' }) as string, /^Mozilla\/5\.0/)
    assert.equal(value({ name: 'HTTP_USER_AGENT', key: 'browser' }), 'MOZILLA')
    assert.equal(value({ name: 'HTTP_USER_AGENT', key: 'version' }), '5.0')
    assert.equal(value({ name: 'HTTP_USER_AGENT', key: 'os' }), 'WIN')
    assert.equal(value({ name: 'HTTP_USER_AGENT', key: 'engine' }), undefined)
  })

  test('parseUserAgent classifies browsers and platforms', () => {
    assert.deepEqual(parseUserAgent('Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)'), { browser: 'MSIE', version: '5.5', os: 'WIN' })
    assert.deepEqual(parseUserAgent('Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko'), { browser: 'MSIE', version: '11.0', os: 'WIN' })
    assert.deepEqual(parseUserAgent('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15'), { browser: 'MOZILLA', version: '5.0', os: 'MAC' })
    assert.deepEqual(parseUserAgent('Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0'), { browser: 'MOZILLA', version: '5.0', os: 'UNIX' })
    assert.deepEqual(parseUserAgent('curl/8.5.0'), { browser: 'OTHER', version: '', os: 'OTHER' })
  })

  test('absent headers and unknown names are undefined', () => {
    const empty = createVariableContext({ url: '/', headers: [] })
    for (const ref of [{ name: 'HTTP_HOST' }, { name: 'HTTP_COOKIE' }, { name: 'HTTP_COOKIE', key: 'a' }, { name: 'HTTP_USER_AGENT', key: 'os' }, { name: 'HTTP_ACCEPT_LANGUAGE' }, { name: 'FOO' }]) {
      assert.equal(resolveVariable(ref, empty), undefined, JSON.stringify(ref))
    }
    assert.equal(resolveVariable({ name: 'HTTP_ACCEPT_LANGUAGE', key: 'en' }, empty), false)
  })
})

test('variableText applies the default to empty and undefined values (§4.2); booleans print', () => {
  const c = ctx()
  assert.equal(variableText({ name: 'HTTP_COOKIE', key: 'id', default: 'default' }, c), '571')
  assert.equal(variableText({ name: 'HTTP_COOKIE', key: 'nope', default: 'default' }, c), 'default')
  assert.equal(variableText({ name: 'QUERY_STRING', key: 'empty', default: 'd' }, c), 'd')
  assert.equal(variableText({ name: 'HTTP_COOKIE', key: 'nope' }, c), '')
  assert.equal(variableText({ name: 'HTTP_ACCEPT_LANGUAGE', key: 'da' }, c), 'true')
  assert.equal(variableText({ name: 'HTTP_ACCEPT_LANGUAGE', key: 'zz', default: 'x' }, c), 'false')
})

test('checkVariableRef names the problem', () => {
  assert.equal(checkVariableRef({ name: 'HTTP_COOKIE', key: 'a' }), undefined)
  assert.match(checkVariableRef({ name: 'FOO' })!, /unknown variable FOO/)
  assert.match(checkVariableRef({ name: 'HTTP_HOST', key: 'a' })!, /no substructure/)
  assert.match(checkVariableRef({ name: 'HTTP_USER_AGENT', key: 'engine' })!, /browser, version and os/)
})

test('formatVariableRef writes the source form back', () => {
  assert.equal(formatVariableRef({ name: 'HTTP_COOKIE', key: 'a', default: "it's" }), "$(HTTP_COOKIE{a}|'it\\'s')")
  const back = scanVariableRef(formatVariableRef({ name: 'HTTP_COOKIE', key: 'a', default: "it's \\ x" }), 0)
  assert.deepEqual(back.kind === 'ok' && back.ref, { name: 'HTTP_COOKIE', key: 'a', default: "it's \\ x" })
})
