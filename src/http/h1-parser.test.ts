/**
 * Unit tests for http/h1-parser: what the fast parser takes, and everything it leaves to
 * node's parser (undefined), field by field.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseRequestHead } from './h1-parser.js'

const head = (...lines: string[]) => lines.join('\r\n')

describe('parseRequestHead: the subset it takes', () => {
  test('a GET with fields: names lower-cased, order and repeats kept, OWS trimmed', () => {
    const parsed = parseRequestHead(head('GET /a/b?c=1 HTTP/1.1', 'Host: example.com', 'Accept:  text/html \t', 'X-Two: 1', 'x-two: 2'))
    assert.deepEqual(parsed, {
      method: 'GET', target: '/a/b?c=1', httpVersion: '1.1', keepAlive: true,
      headers: [['host', 'example.com'], ['accept', 'text/html'], ['x-two', '1'], ['x-two', '2']],
    })
  })

  test('HEAD, HTTP/1.0, an empty value, obs-text (RFC 9110 §5.5) and Content-Length: 0', () => {
    const parsed = parseRequestHead(head('HEAD / HTTP/1.0', 'Host: a', 'X-Empty:', 'X-Latin: caf\xe9', 'Content-Length: 0'))!
    assert.equal(parsed.method, 'HEAD')
    assert.equal(parsed.httpVersion, '1.0')
    assert.deepEqual(parsed.headers, [['host', 'a'], ['x-empty', ''], ['x-latin', 'caf\xe9'], ['content-length', '0']])
  })

  test('a request line alone (no fields) is parsed; Host is checked later, by admitRequest', () => {
    assert.deepEqual(parseRequestHead('GET / HTTP/1.1')?.headers, [])
  })
})

describe('parseRequestHead: persistence (RFC 9112 §9.3)', () => {
  const keepAlive = (version: string, ...connection: string[]) =>
    parseRequestHead(head(`GET / HTTP/${version}`, 'Host: a', ...connection.map((c) => `Connection: ${c}`)))!.keepAlive
  test('HTTP/1.1 persists unless close', () => {
    assert.equal(keepAlive('1.1'), true)
    assert.equal(keepAlive('1.1', 'close'), false)
    assert.equal(keepAlive('1.1', 'Keep-Alive, CLOSE'), false)
    assert.equal(keepAlive('1.1', 'te', 'close'), false)
    assert.equal(keepAlive('1.1', 'upgrade-insecure'), true)
  })
  test('HTTP/1.0 persists only with keep-alive', () => {
    assert.equal(keepAlive('1.0'), false)
    assert.equal(keepAlive('1.0', 'keep-alive'), true)
    assert.equal(keepAlive('1.0', 'Keep-Alive'), true)
    assert.equal(keepAlive('1.0', 'keep-alive, close'), false)
  })
})

describe('parseRequestHead: left to node\'s parser', () => {
  const cases: Array<[string, string]> = [
    ['a method with a body or an unknown one', head('POST / HTTP/1.1', 'Host: a')],
    ['PURGE', head('PURGE / HTTP/1.1', 'Host: a')],
    ['a lower-case method', head('get / HTTP/1.1', 'Host: a')],
    ['absolute-form', head('GET http://a/ HTTP/1.1', 'Host: a')],
    ['asterisk-form', head('OPTIONS * HTTP/1.1', 'Host: a')],
    ['HTTP/2.0 or HTTP/0.9 versions', head('GET / HTTP/2.0', 'Host: a')],
    ['two spaces in the request line', head('GET  / HTTP/1.1', 'Host: a')],
    ['a space in the target', head('GET /a b HTTP/1.1', 'Host: a')],
    ['a control byte in the target', head('GET /a\x01 HTTP/1.1', 'Host: a')],
    ['obs-fold (RFC 9112 §5.2)', head('GET / HTTP/1.1', 'Host: a', 'X-A: 1', ' folded')],
    ['whitespace before the colon (RFC 9112 §5.1)', head('GET / HTTP/1.1', 'Host : a')],
    ['a bare LF inside the head', 'GET / HTTP/1.1\r\nHost: a\nX-B: 1'],
    ['a bare CR inside a value', head('GET / HTTP/1.1', 'Host: a\rX-B: 1')],
    ['a NUL in a value', head('GET / HTTP/1.1', 'Host: a', 'X-B: 1\x002')],
    ['a field line without a colon', head('GET / HTTP/1.1', 'Host: a', 'garbage')],
    ['an empty field name', head('GET / HTTP/1.1', ': a')],
    ['a non-token field name', head('GET / HTTP/1.1', 'X(A): 1')],
    ['Transfer-Encoding (a body)', head('GET / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked')],
    ['Content-Length above 0 (a body)', head('GET / HTTP/1.1', 'Host: a', 'Content-Length: 5')],
    ['a malformed Content-Length', head('GET / HTTP/1.1', 'Host: a', 'Content-Length: 0, 0')],
    ['Expect', head('GET / HTTP/1.1', 'Host: a', 'Expect: 100-continue')],
    ['Upgrade', head('GET / HTTP/1.1', 'Host: a', 'Upgrade: websocket', 'Connection: upgrade')],
    ['an empty line before the request line', head('', 'GET / HTTP/1.1', 'Host: a')],
  ]
  for (const [what, bytes] of cases) {
    test(what, () => assert.equal(parseRequestHead(bytes), undefined))
  }
})
