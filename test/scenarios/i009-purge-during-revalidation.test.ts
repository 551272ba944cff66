/**
 * i009: a hard purge issued while a stale entry is being revalidated takes the stale copy out
 * of reach, even for the request already holding it: when the origin then fails, that request
 * gets the error, not the purged copy. Without the purge, the same failure serves stale
 * (stale-if-error, RFC 5861 §4) — the control that shows the test can tell the difference.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startOrigin, sleep, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, request, startProxy, type TestProxy } from '../helpers/proxy.js'
import { purge } from '../helpers/invalidation.js'

let origin: TestOrigin
let proxy: TestProxy

before(async () => {
  origin = await startOrigin()
  proxy = await startProxy({ origin: origin.url })
})
after(async () => { await proxy.close(); await origin.close() })

/** First answer: stored for 1 s, usable stale on error for a minute; later answers: a reset after 300 ms. */
function failingAfterFirst(path: string): void {
  let calls = 0
  origin.on(path, async (_req, res) => {
    calls++
    if (calls === 1) {
      res.writeHead(200, { 'cache-control': 'max-age=1, stale-if-error=60', etag: '"v1"', 'content-type': 'text/plain' })
      res.end('version 1')
      return
    }
    await sleep(300)
    res.socket?.destroy()
  })
}

for (const withPurge of [false, true]) {
  test(withPurge ? 'a hard purge during the revalidation: the origin\'s failure is answered with the error, not the purged copy'
    : 'control: without a purge, the same failure serves the stale copy', async () => {
    const path = `/revalidating-${withPurge ? 'purged' : 'kept'}`
    failingAfterFirst(path)
    const first = await request(`${proxy.url}${path}`)
    assert.equal(first.body, 'version 1')
    await sleep(1100) // stale now
    const pending = request(`${proxy.url}${path}`)
    await sleep(100) // the revalidation is at the origin
    if (withPurge) {
      const res = await purge(proxy.url, path)
      assert.equal(res.status, 200, res.body)
      assert.match(res.body, /"urls":1/)
    }
    const res = await pending
    if (withPurge) {
      assert.equal(res.status, 502, `got ${res.status} ${cacheStatus(res)}: ${res.body}`)
      assert.notEqual(res.body, 'version 1')
    } else {
      assert.equal(res.status, 200, cacheStatus(res))
      assert.equal(res.body, 'version 1')
      assert.match(cacheStatus(res), /detail=ORIGIN-UNREACHABLE/)
    }
  })
}
