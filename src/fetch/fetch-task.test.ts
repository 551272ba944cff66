/**
 * Unit tests for fetch/fetch-task's prepare state: the origin request's fields (Varnish
 * mkbereq) — hop-by-hop fields out, the client's conditionals kept on a pass only, Via and
 * X-Forwarded-* appended, the unkeyed forwarding fields replaced, Surrogate-Capability when ESI is on.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ProxyContext } from '../context.js'
import type { HeaderList } from '../http-cache/header-list.js'
import { type FetchJob, prepareOriginHeaders } from './fetch-task.js'

function context(isEsi = true): ProxyContext {
  return { config: { name: 'lacquer', esi: { isEnabled: isEsi } } } as unknown as ProxyContext
}

function job(mode: FetchJob['mode'], headers: HeaderList, clientAddress = '192.0.2.1'): FetchJob {
  return { mode, key: 'http://shop.example/a', request: { method: 'GET', path: '/a', host: 'shop.example', scheme: 'https', headers, clientAddress } }
}

const CLIENT: HeaderList = [
  ['host', 'shop.example'], ['via', '1.0 edge'], ['accept', 'text/html'], ['x-forwarded-for', '203.0.113.7'],
  ['if-none-match', '"v1"'], ['x-forwarded-proto', 'http'], ['x-forwarded-host', 'evil.example'], ['forwarded', 'for=1.2.3.4'],
  ['expect', '100-continue'], ['range', 'bytes=0-1'], ['via', '1.1 cdn'], ['surrogate-capability', 'cdn="ESI/1.0"'], ['x-forwarded-for', '198.51.100.2'],
]

test('a pass forwards the client\'s fields, its conditionals and range included, then Via and X-Forwarded-* last, in this order', () => {
  const out = prepareOriginHeaders(context(), job('pass', CLIENT.slice()))
  assert.deepEqual(out, [
    ['host', 'shop.example'], ['accept', 'text/html'], ['if-none-match', '"v1"'], ['range', 'bytes=0-1'],
    ['via', '1.0 edge, 1.1 cdn, 1.1 lacquer'],
    ['x-forwarded-for', '203.0.113.7, 198.51.100.2, 192.0.2.1'],
    ['x-forwarded-proto', 'https'],
    ['x-forwarded-host', 'shop.example'],
    ['forwarded', 'for=192.0.2.1;host="shop.example";proto=https'],
    ['surrogate-capability', 'cdn="ESI/1.0", lacquer="ESI/1.0"'],
  ])
})

test('a fetch that may be stored asks for the whole representation: the client\'s conditionals and range stay behind (RFC 9111 §4.3.2)', () => {
  const out = prepareOriginHeaders(context(), job('miss', [
    ['host', 'shop.example'], ['if-none-match', '"v1"'], ['if-modified-since', 'x'], ['if-range', 'x'], ['range', 'bytes=0-1'],
    ['if-match', 'x'], ['if-unmodified-since', 'x'], ['accept', '*/*'],
  ]))
  assert.deepEqual(out.slice(0, 2), [['host', 'shop.example'], ['accept', '*/*']])
  assert.equal(out[2]![0], 'via')
})

test('hop-by-hop fields (and those Connection names) an edit put back are not forwarded; the client\'s list is not changed', () => {
  const headers: HeaderList = [['host', 'shop.example'], ['connection', 'x-secret'], ['x-secret', '1'], ['te', 'trailers'], ['accept', '*/*']]
  const out = prepareOriginHeaders(context(), job('pass', headers))
  assert.deepEqual(out.slice(0, 2), [['host', 'shop.example'], ['accept', '*/*']])
  assert.equal(headers.length, 5)
})

test('without ESI a client\'s Surrogate-Capability passes as it is and none is added; an IPv6 client is quoted in Forwarded', () => {
  const out = prepareOriginHeaders(context(false), job('pass', [['host', 'shop.example'], ['surrogate-capability', 'cdn="ESI/1.0"']], '2001:db8::1'))
  assert.deepEqual(out.filter(([name]) => name === 'surrogate-capability'), [['surrogate-capability', 'cdn="ESI/1.0"']])
  assert.deepEqual(out.find(([name]) => name === 'forwarded'), ['forwarded', 'for="[2001:db8::1]";host="shop.example";proto=https'])
  assert.deepEqual(out.find(([name]) => name === 'x-forwarded-for'), ['x-forwarded-for', '2001:db8::1'])
})

test('a quote or backslash in the host never ends up inside Forwarded\'s quoted host', () => {
  const request = { method: 'GET', path: '/', host: 'a"b\\c', scheme: 'http' as const, headers: [], clientAddress: '' }
  const out = prepareOriginHeaders(context(false), { mode: 'pass', key: '', request })
  assert.deepEqual(out.find(([name]) => name === 'forwarded'), ['forwarded', 'for=unknown;host="abc";proto=http'])
})
