/**
 * s011: a Unix-socket origin (`unix:/path.sock`) through the library: requests are forwarded
 * over the socket, cached, probed over the socket, and several socket origins share a director.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { cacheStatus, isHit, request, startProxy } from '../helpers/proxy.js'
import { startRestartableOrigin } from '../helpers/restartable-origin.js'
import { waitUntil } from '../helpers/rfc-scenario.js'

const dir = mkdtempSync(join(tmpdir(), 'lacquer-s011-'))
after(() => rmSync(dir, { recursive: true, force: true }))

test('unix: origin: forwarded over the socket, stored, served from the store', async () => {
  const app = await startRestartableOrigin('unix-app', { socketPath: join(dir, 'a.sock') })
  app.handler = (_req, res) => { res.writeHead(200, { 'cache-control': 'max-age=60' }); res.end('from the socket') }
  const proxy = await startProxy({ origin: app.url })
  try {
    assert.equal((await request(`${proxy.url}/x`)).body, 'from the socket')
    const second = await request(`${proxy.url}/x`)
    assert.ok(isHit(second), cacheStatus(second))
    assert.equal(app.served, 1)
  } finally {
    await proxy.close()
    await app.stop()
  }
})

test('two unix: origins with probes: the one whose socket goes away leaves the director', async () => {
  const a = await startRestartableOrigin('a', { socketPath: join(dir, 'b1.sock') })
  const b = await startRestartableOrigin('b', { socketPath: join(dir, 'b2.sock') })
  const probe = { url: '/healthz', interval: '50ms', window: 3, threshold: 2 }
  const proxy = await startProxy({ origins: [{ url: a.url, probe }, { url: b.url, probe }] })
  try {
    const before = [(await request(`${proxy.url}/1`)).body, (await request(`${proxy.url}/2`)).body]
    assert.deepEqual(before.sort(), ['a', 'b'])
    await a.stop()
    await waitUntil(() => proxy.logs.some((l) => l.msg.startsWith('origin is sick')), 3000, 'a sick')
    for (let i = 0; i < 4; i++) assert.equal((await request(`${proxy.url}/after/${i}`)).body, 'b')
  } finally {
    await proxy.close()
    await b.stop()
  }
})
