import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { TrustGuard, parseCidr } from './trust.js'

const TOKEN = 'a-token-of-sixteen-plus'

describe('parseCidr', () => {
  test('IPv4 and IPv6 networks and single addresses', () => {
    assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' })
    assert.deepEqual(parseCidr('192.0.2.7'), { address: '192.0.2.7', prefix: 32, family: 'ipv4' })
    assert.deepEqual(parseCidr('::1/128'), { address: '::1', prefix: 128, family: 'ipv6' })
    assert.deepEqual(parseCidr('fd00::/8'), { address: 'fd00::', prefix: 8, family: 'ipv6' })
  })
  test('malformed ones are refused', () => {
    for (const bad of ['', '10.0.0.0/33', '::1/129', '10.0.0/8', 'localhost', '10.0.0.0/8/1', '10.0.0.0/x', '10.0.0.0/']) {
      assert.equal(parseCidr(bad), undefined, bad)
    }
  })
})

describe('TrustGuard', () => {
  test('loopback by default: IPv4, IPv6 and IPv4-mapped IPv6 addresses', () => {
    const guard = new TrustGuard({ allow: ['127.0.0.0/8', '::1/128'], require: 'address-or-token' })
    for (const ok of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) assert.equal(guard.check(ok, undefined).ok, true, ok)
    for (const no of ['10.0.0.1', '::2', '::ffff:10.0.0.1', '', undefined, 'not-an-ip']) {
      const verdict = guard.check(no, undefined)
      assert.equal(verdict.ok, false, String(no))
      assert.equal(!verdict.ok && verdict.status, 403)
      assert.match(!verdict.ok ? verdict.reason : '', /not in trust.allow/)
    }
  })

  test('a network prefix covers its addresses only', () => {
    const guard = new TrustGuard({ allow: ['10.1.0.0/16', 'fd00:1::/32'], require: 'address-or-token' })
    assert.equal(guard.check('10.1.200.3', undefined).ok, true)
    assert.equal(guard.check('10.2.0.1', undefined).ok, false)
    assert.equal(guard.check('fd00:1:ffff::5', undefined).ok, true)
    assert.equal(guard.check('fd00:2::5', undefined).ok, false)
    assert.equal(guard.check('127.0.0.1', undefined).ok, false, 'loopback is not implied')
  })

  test('address-or-token: a valid bearer token is trusted from anywhere; a wrong one is refused', () => {
    const guard = new TrustGuard({ allow: ['127.0.0.0/8'], token: TOKEN, require: 'address-or-token' })
    assert.equal(guard.check('203.0.113.9', `Bearer ${TOKEN}`).ok, true)
    assert.equal(guard.check('203.0.113.9', `bearer   ${TOKEN}`).ok, true, 'the scheme is case-insensitive')
    for (const auth of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, `Basic ${TOKEN}`, TOKEN, 'Bearer ', '']) {
      const verdict = guard.check('203.0.113.9', auth)
      assert.equal(verdict.ok, false, auth)
    }
    assert.match((guard.check('203.0.113.9', 'Bearer nope') as { reason: string }).reason, /token is not valid/)
    assert.equal(guard.check('127.0.0.1', 'Bearer nope').ok, true, 'an allowed address needs no token')
  })

  test('address-and-token: both are needed; 401 for a missing token from an allowed address', () => {
    const guard = new TrustGuard({ allow: ['127.0.0.0/8'], token: TOKEN, require: 'address-and-token' })
    assert.equal(guard.check('127.0.0.1', `Bearer ${TOKEN}`).ok, true)
    const noToken = guard.check('127.0.0.1', undefined)
    assert.equal(!noToken.ok && noToken.status, 401)
    const elsewhere = guard.check('203.0.113.9', `Bearer ${TOKEN}`)
    assert.equal(!elsewhere.ok && elsewhere.status, 403)
  })

  test('no token configured: an Authorization header grants nothing', () => {
    const guard = new TrustGuard({ allow: [], require: 'address-or-token' })
    assert.equal(guard.check('127.0.0.1', 'Bearer anything-at-all-here').ok, false)
  })

  test('a malformed allow entry is refused at construction', () => {
    assert.throws(() => new TrustGuard({ allow: ['10.0.0.0/99'], require: 'address-or-token' }), /trust.allow: "10.0.0.0\/99"/)
  })
})
