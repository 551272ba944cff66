/**
 * e002: the demo shop (`lacquer demo`) works as the README's quick start says: the product
 * page is shared and cached, the header is per user (and follows the cart), the stock is
 * live, and /report shows each fragment's Cache-Status.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startDemo } from '../../src/demo/demo.js'
import { cacheStatus, isHit, request } from '../helpers/proxy.js'

let demo: Awaited<ReturnType<typeof startDemo>>
before(async () => {
  demo = await startDemo({ listen: '127.0.0.1:0', admin: '127.0.0.1:0', originListen: '127.0.0.1:0', logger: () => {} })
})
after(async () => { await demo.close() })

const stockOf = (body: string) => /(\d+) in stock/.exec(body)?.[1]
const header = (body: string) => /<header>(.*?)<\/header>/s.exec(body)?.[1] ?? ''

test('demo shop: shared product page, per-user header that follows the cart, live stock, and the report', async () => {
  const anon1 = await request(`${demo.url}/products/1`)
  const anon2 = await request(`${demo.url}/products/1`)
  assert.equal(anon1.status, 200)
  assert.match(cacheStatus(anon1), /ESI-ASSEMBLED/)
  assert.ok(isHit(anon2), cacheStatus(anon2))
  assert.match(header(anon2.body), /Log in/)
  assert.ok(stockOf(anon1.body) && stockOf(anon2.body), 'the stock fragment is in the page')

  const login = await request(`${demo.url}/login?user=alice`)
  const cookies = (login.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ')
  assert.match(cookies, /session=alice-/)
  const alice1 = await request(`${demo.url}/products/1`, { headers: { cookie: cookies } })
  assert.ok(isHit(alice1), 'the page itself is still the shared copy')
  assert.match(header(alice1.body), /Signed in as <b>alice<\/b> · cart: 0 items/)
  const bobLogin = await request(`${demo.url}/login?user=bob`)
  const bob = (bobLogin.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ')
  const bob1 = await request(`${demo.url}/products/1`, { headers: { cookie: bob } })
  assert.match(header(bob1.body), /Signed in as <b>bob<\/b>/)
  assert.doesNotMatch(bob1.body, /alice/)
  const alice2 = await request(`${demo.url}/products/1`, { headers: { cookie: cookies } })
  assert.equal(header(alice2.body), header(alice1.body), 'alice\'s header came from her cached copy (same render time)')

  const added = await request(`${demo.url}/cart/add?id=1`, { method: 'POST', headers: { cookie: cookies } })
  assert.equal(added.status, 200)
  const cart = (added.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ')
  const afterAdd = await request(`${demo.url}/products/1`, { headers: { cookie: `${cookies.replace(/cart=\d+/, '')}; ${cart}` } })
  assert.match(header(afterAdd.body), /cart: 1 item\b/)
  assert.notEqual(stockOf(afterAdd.body), stockOf(anon1.body), 'the stock is live: one fewer after the purchase')

  const report = await request(`${demo.url}/report`)
  assert.equal(report.status, 200)
  assert.match(report.body, /\/fragments\/header\?cart=1/)
  assert.match(report.body, /<b>hit<\/b>/)
  assert.match(report.body, /not cached/)
})

test('demo: the first demo\'s pages still answer (cached, login, api/me, vary)', async () => {
  await request(`${demo.url}/cached`)
  assert.ok(isHit(await request(`${demo.url}/cached`)))
  const me = await request(`${demo.url}/api/me`, { headers: { cookie: 'session=bob-1' } })
  assert.equal(JSON.parse(me.body).user, 'bob')
  assert.match((await request(`${demo.url}/vary`, { headers: { 'accept-language': 'fr' } })).body, /Bonjour/)
})
