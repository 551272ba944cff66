/**
 * Unit tests for http-cache/invalidation: invalidation after unsafe methods (RFC 9111 §4.4),
 * hop-by-hop fields (RFC 9110 §7.6.1) and updating stored fields from a 304 (RFC 9111 §3.2).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { HeaderList } from './header-list.js'
import { HOP_BY_HOP, SAFE_METHODS, mergeHeaders, removeHopByHop, stripHopByHop, urisToInvalidate, withoutHopByHop } from './invalidation.js'

describe('urisToInvalidate (RFC 9111 §4.4)', () => {
  test('safe methods invalidate nothing', () => {
    assert.deepEqual([...SAFE_METHODS].sort(), ['GET', 'HEAD', 'OPTIONS', 'TRACE'])
    for (const method of SAFE_METHODS) {
      assert.deepEqual(urisToInvalidate(method, 200, '/a', 'example.com', [['location', '/b']]), [], method)
    }
  })

  test('an unsafe method with a 2xx or 3xx invalidates the target', () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      assert.deepEqual(urisToInvalidate(method, 200, '/a?x=1', 'example.com', []), ['/a?x=1'], method)
    }
    assert.deepEqual(urisToInvalidate('POST', 204, '/a', 'example.com', []), ['/a'])
    assert.deepEqual(urisToInvalidate('POST', 303, '/a', 'example.com', []), ['/a'])
    assert.deepEqual(urisToInvalidate('POST', 399, '/a', 'example.com', []), ['/a'])
  })

  test('an unknown method is unsafe', () => {
    assert.deepEqual(urisToInvalidate('FROB', 200, '/a', 'example.com', []), ['/a'])
  })

  test('error and informational statuses invalidate nothing', () => {
    for (const status of [100, 199, 400, 404, 500, 503]) {
      assert.deepEqual(urisToInvalidate('POST', status, '/a', 'example.com', [['location', '/b']]), [], String(status))
    }
  })

  test('Location and Content-Location on the same origin are invalidated too', () => {
    assert.deepEqual(urisToInvalidate('POST', 201, '/items', 'example.com', [['location', '/items/7'], ['content-location', 'http://example.com/items/7/view?a=b']]),
      ['/items', '/items/7', '/items/7/view?a=b'])
  })

  test('relative references are resolved against the target', () => {
    assert.deepEqual(urisToInvalidate('POST', 200, '/a/b?q=1', 'example.com', [['location', 'c']]), ['/a/b?q=1', '/a/c'])
    assert.deepEqual(urisToInvalidate('POST', 200, '/a/b', 'example.com', [['location', '../d']]), ['/a/b', '/d'])
    assert.deepEqual(urisToInvalidate('POST', 200, '/a/b', 'example.com', [['location', '?z=2']]), ['/a/b', '/a/b?z=2'])
  })

  test('a fragment is not part of the key', () => {
    assert.deepEqual(urisToInvalidate('POST', 200, '/a', 'example.com', [['location', '/b#top']]), ['/a', '/b'])
  })

  test('another host or port is never invalidated', () => {
    assert.deepEqual(urisToInvalidate('POST', 200, '/a', 'example.com', [['location', 'http://other.example/b'], ['content-location', '//evil.example/c']]), ['/a'])
    assert.deepEqual(urisToInvalidate('POST', 200, '/a', 'example.com:8080', [['location', 'http://example.com/b']]), ['/a'])
    assert.deepEqual(urisToInvalidate('POST', 200, '/a', 'example.com:8080', [['location', 'http://example.com:8080/b']]), ['/a', '/b'])
  })

  test('duplicates are listed once', () => {
    assert.deepEqual(urisToInvalidate('PUT', 200, '/a', 'example.com', [['location', '/a'], ['content-location', '/b'], ['location', '/b']]), ['/a', '/b'])
  })

  test('an unparsable reference is skipped', () => {
    assert.deepEqual(urisToInvalidate('POST', 200, '/a', 'example.com', [['location', 'http://[bad']]), ['/a'])
  })
})

describe('stripHopByHop (RFC 9110 §7.6.1)', () => {
  test('the fixed hop-by-hop set', () => {
    assert.deepEqual([...HOP_BY_HOP].sort(), [
      'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authentication-info', 'proxy-authorization',
      'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
    ])
  })

  test('removes hop-by-hop fields and keeps the rest in order', () => {
    const headers: HeaderList = [
      ['content-type', 'text/html'], ['connection', 'keep-alive'], ['keep-alive', 'timeout=5'], ['transfer-encoding', 'chunked'],
      ['te', 'trailers'], ['trailer', 'x-sum'], ['upgrade', 'h2c'], ['proxy-connection', 'close'], ['proxy-authenticate', 'Basic'],
      ['proxy-authorization', 'Basic x'], ['proxy-authentication-info', 'a'], ['cache-control', 'max-age=60'], ['set-cookie', 'a=1'],
    ]
    assert.deepEqual(stripHopByHop(headers), [['content-type', 'text/html'], ['cache-control', 'max-age=60'], ['set-cookie', 'a=1']])
  })

  test('fields named by Connection are removed, case-insensitively, from every line', () => {
    const headers: HeaderList = [
      ['connection', 'close, X-Foo'], ['connection', 'x-bar'], ['x-foo', '1'], ['x-bar', '2'], ['x-baz', '3'], ['x-foo', '4'],
    ]
    assert.deepEqual(stripHopByHop(headers), [['x-baz', '3']])
  })

  test('returns new pairs: the input is not changed', () => {
    const headers: HeaderList = [['a', '1'], ['connection', 'a']]
    const kept: HeaderList = [['b', '2']]
    const out = stripHopByHop(kept)
    assert.deepEqual(out, [['b', '2']])
    assert.notEqual(out, kept)
    assert.notEqual(out[0], kept[0])
    stripHopByHop(headers)
    assert.deepEqual(headers, [['a', '1'], ['connection', 'a']])
  })
})

describe('removeHopByHop: stripHopByHop on a list the caller owns (RFC 9110 §7.6.1)', () => {
  test('takes out what stripHopByHop takes out, in the same list, the rest in order', () => {
    const lists: HeaderList[] = [
      [
        ['content-type', 'text/html'], ['connection', 'keep-alive'], ['keep-alive', 'timeout=5'], ['transfer-encoding', 'chunked'],
        ['te', 'trailers'], ['trailer', 'x-sum'], ['upgrade', 'h2c'], ['proxy-connection', 'close'], ['proxy-authenticate', 'Basic'],
        ['proxy-authorization', 'Basic x'], ['proxy-authentication-info', 'a'], ['cache-control', 'max-age=60'], ['set-cookie', 'a=1'],
      ],
      [['x-foo', '0'], ['connection', 'close, X-Foo'], ['connection', 'x-bar'], ['x-foo', '1'], ['x-bar', '2'], ['x-baz', '3'], ['x-foo', '4']],
      [['host', 'a.example'], ['connection', 'host, x-a'], ['x-a', '1'], ['date', 'x']],
      [['date', 'x'], ['etag', '"1"']],
      [],
    ]
    for (const headers of lists) {
      const expected = stripHopByHop(headers)
      const pairs = new Set(headers)
      const out = removeHopByHop(headers)
      assert.equal(out, headers, 'the same list')
      assert.deepEqual(out, expected)
      for (const pair of out) assert.ok(pairs.has(pair), 'the same pairs, not copies')
    }
  })
})

describe('withoutHopByHop', () => {
  test('the list itself when it has no hop-by-hop field; a stripped copy otherwise (the input unchanged)', () => {
    const plain: HeaderList = [['host', 'a'], ['accept', '*/*']]
    assert.equal(withoutHopByHop(plain), plain)
    const hop: HeaderList = [['host', 'a'], ['connection', 'x-a'], ['x-a', '1'], ['accept', '*/*']]
    assert.deepEqual(withoutHopByHop(hop), [['host', 'a'], ['accept', '*/*']])
    assert.equal(hop.length, 4)
  })
})

describe('mergeHeaders (RFC 9111 §3.2)', () => {
  test('fields of the update replace every stored line of the same name', () => {
    const stored: HeaderList = [['content-type', 'text/html'], ['x-v', '1'], ['cache-control', 'max-age=1'], ['x-v', '2']]
    const update: HeaderList = [['cache-control', 'max-age=60'], ['x-v', '3']]
    assert.deepEqual(mergeHeaders(stored, update), [['content-type', 'text/html'], ['cache-control', 'max-age=60'], ['x-v', '3']])
  })

  test('new fields are added, repeated update lines are all kept', () => {
    assert.deepEqual(mergeHeaders([['a', '1']], [['b', '1'], ['b', '2']]), [['a', '1'], ['b', '1'], ['b', '2']])
  })

  test('a 304 keeps the stored Content-Length (and the other body-describing fields)', () => {
    const stored: HeaderList = [
      ['content-length', '5'], ['content-encoding', 'gzip'], ['content-range', 'bytes 0-4/5'], ['etag', '"a"'],
    ]
    const update: HeaderList = [
      ['content-length', '0'], ['content-encoding', 'br'], ['content-range', 'bytes */0'], ['transfer-encoding', 'chunked'], ['etag', '"a"'],
    ]
    assert.deepEqual(mergeHeaders(stored, update), [
      ['content-length', '5'], ['content-encoding', 'gzip'], ['content-range', 'bytes 0-4/5'], ['etag', '"a"'],
    ])
  })

  test('an empty update leaves the stored fields as they were', () => {
    const stored: HeaderList = [['a', '1'], ['b', '2']]
    const merged = mergeHeaders(stored, [])
    assert.deepEqual(merged, stored)
    assert.notEqual(merged, stored)
  })

  test('neither input is changed', () => {
    const stored: HeaderList = [['a', '1']]
    const update: HeaderList = [['a', '2']]
    mergeHeaders(stored, update)
    assert.deepEqual(stored, [['a', '1']])
    assert.deepEqual(update, [['a', '2']])
  })
})
