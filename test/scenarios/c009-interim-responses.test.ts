/**
 * c009: interim (1xx) responses. A 103 Early Hints from the origin (RFC 8297) is forwarded
 * to the client ahead of the final response (RFC 9110 §15.2: a proxy forwards 1xx
 * responses), and it is not part of what is stored (RFC 9111 §3: only final responses are
 * stored), so a later hit does not replay it.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { describe, test } from 'node:test'
import { cacheStatus, isHit } from '../helpers/proxy.js'
import { useOriginAndProxy } from '../helpers/scenario-setup.js'

const env = useOriginAndProxy()

interface WithInterim {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
  interim: Array<{ statusCode: number; headers: http.IncomingHttpHeaders }>
}

/** One request that records every 1xx interim response ('information' event) before the final one. */
function requestWithInterim(url: string, method = 'GET', body?: string): Promise<WithInterim> {
  return new Promise((resolve, reject) => {
    const interim: WithInterim['interim'] = []
    const req = http.request(url, { method, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), interim }))
    })
    req.on('information', (info) => interim.push({ statusCode: info.statusCode, headers: info.headers }))
    req.on('error', reject)
    req.end(body)
  })
}

const hitOf = (res: WithInterim) => isHit({ status: res.status, headers: res.headers, rawHeaders: [], body: res.body, isAborted: false })
const statusOf = (res: WithInterim) => cacheStatus({ status: res.status, headers: res.headers, rawHeaders: [], body: res.body, isAborted: false })

const STYLE = '</style.css>; rel=preload; as=style'
const SCRIPT = '</app.js>; rel=preload; as=script'

function serveWithEarlyHints(path: string, cacheControl: string, links: string | string[] = STYLE): void {
  env.origin.on(path, (_req, res) => {
    res.writeEarlyHints({ link: links })
    res.writeHead(200, { 'cache-control': cacheControl, 'content-type': 'text/plain', link: '</style.css>; rel=preload; as=style' })
    res.end('page with hints')
  })
}

describe('103 Early Hints', () => {
  test('a 103 from the origin reaches the client before the final response', async () => {
    const path = '/c009/early-hints/forwarded'
    serveWithEarlyHints(path, 'max-age=60')
    const res = await requestWithInterim(`${env.proxy.url}${path}`)
    assert.equal(res.status, 200)
    assert.equal(res.body, 'page with hints')
    assert.equal(res.interim.length, 1, JSON.stringify(res.interim))
    assert.equal(res.interim[0]!.statusCode, 103)
    assert.equal(res.interim[0]!.headers.link, STYLE)
  })

  test('a 103 with two Link values in one field line (as node sends them) reaches the client, and the final response is intact', async () => {
    const path = '/c009/early-hints/two-links'
    serveWithEarlyHints(path, 'max-age=60', [STYLE, SCRIPT])
    const res = await requestWithInterim(`${env.proxy.url}${path}`)
    assert.equal(res.status, 200, `a 1xx the proxy cannot forward must not turn the response into an error: ${res.body}`)
    assert.equal(res.body, 'page with hints')
    assert.equal(res.interim.length, 1, JSON.stringify(res.interim))
    assert.equal(res.interim[0]!.statusCode, 103)
    const link = String(res.interim[0]!.headers.link)
    assert.ok(link.includes(STYLE) && link.includes(SCRIPT), link)
  })

  test('the 103 is not stored: the hit that follows has no interim response, and the final one is intact', async () => {
    const path = '/c009/early-hints/not-replayed'
    serveWithEarlyHints(path, 'max-age=60')
    const first = await requestWithInterim(`${env.proxy.url}${path}`)
    assert.equal(first.interim.length, 1)
    const second = await requestWithInterim(`${env.proxy.url}${path}`)
    assert.ok(hitOf(second), statusOf(second))
    assert.deepEqual(second.interim, [])
    assert.equal(second.status, 200)
    assert.equal(second.body, 'page with hints')
    assert.equal(second.headers.link, '</style.css>; rel=preload; as=style', 'the final response keeps its own Link field')
    assert.equal(env.origin.count(path), 1)
  })

  test('a 103 on a response that is not stored is forwarded on every request', async () => {
    const path = '/c009/early-hints/no-store'
    serveWithEarlyHints(path, 'no-store')
    for (let i = 1; i <= 2; i++) {
      const res = await requestWithInterim(`${env.proxy.url}${path}`)
      assert.equal(res.interim.length, 1, `request ${i}`)
      assert.equal(res.interim[0]!.statusCode, 103)
      assert.equal(res.body, 'page with hints')
    }
    assert.equal(env.origin.count(path), 2)
  })

  test('a 103 answering a POST (passed to the origin) reaches the client', async () => {
    const path = '/c009/early-hints/post'
    serveWithEarlyHints(path, 'no-store')
    const res = await requestWithInterim(`${env.proxy.url}${path}`, 'POST', 'x')
    assert.equal(res.status, 200)
    assert.equal(res.interim.length, 1)
    assert.equal(res.interim[0]!.statusCode, 103)
  })
})
