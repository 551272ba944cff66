import assert from 'node:assert/strict'
import { test } from 'node:test'
import { resolveConfig } from '../config/resolve.js'
import { workerConfig } from './worker-config.js'

const SECRET = 'a-secret-the-primary-made-0123456789'

test('workerConfig: no admin port, an equal share of the store, the primary\'s per-user secret', () => {
  const config = workerConfig({ origin: 'http://127.0.0.1:3000', store: { size: '64mb' } }, { workers: 4, perUserSecret: SECRET })
  const resolved = resolveConfig(config)
  assert.equal(resolved.admin, null)
  assert.equal(resolved.store.maxBytes, 16 * 1024 * 1024)
  assert.equal(resolved.store.maxObjectBytes, 16 * 1024 * 1024)
  assert.equal(resolved.perUser.secret, SECRET)
})

test('workerConfig: the config\'s own secret wins; the default size is divided too', () => {
  const resolved = resolveConfig(workerConfig({ origin: 'http://127.0.0.1:3000', perUser: { secret: 'the-operators-own-secret' } }, { workers: 2, perUserSecret: SECRET }))
  assert.equal(resolved.perUser.secret, 'the-operators-own-secret')
  assert.equal(resolved.store.maxBytes, 128 * 1024 * 1024)
})

test('workerConfig: an object limit above a worker\'s share is refused, naming the key and the share', () => {
  assert.throws(() => workerConfig({ origin: 'http://127.0.0.1:3000', store: { size: '32mb', maxObjectSize: '20mb' } }, { workers: 2, perUserSecret: SECRET }),
    /store\.maxObjectSize: "20mb" is more than each worker's share of store\.size \(32mb \/ 2 workers = 16777216 bytes\)/)
})

test('workerConfig: a size that does not parse is left for resolveConfig to name', () => {
  const config = workerConfig({ origin: 'http://127.0.0.1:3000', store: { size: 'lots' } }, { workers: 2, perUserSecret: SECRET })
  assert.throws(() => resolveConfig(config), /store\.size: "lots"/)
})
