/**
 * u002: leak proof for ESI fragments (u001 extended to per-user fragments). Lacquer in front of
 * a shop whose pages are shared ESI templates assembled from: a per-user header (itself ESI,
 * including a nested per-user badge) cached per session, a per-user API fragment cached per
 * Authorization, a live cart fragment never cached, and a "shared" fragment the origin
 * carelessly personalises when it sees a session. 24 users, signed in or not, with and without
 * an API token, ask for the pages concurrently in interleaved waves; a detector checks every
 * response (status line, every header line, body) for any token belonging to another user. The
 * safe config must give 0 leaks and each signed-in user must see their own header. The detector
 * is shown able to fail: the same workload with the header fragment on a shared `cache` rule
 * must be caught leaking.
 *
 * The interleaving is random; the seed is logged (set LEAK_PROOF_SEED to replay one).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import { after, before, test } from 'node:test'
import type { Policy, RuleConfig } from '../../src/index.js'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { startProxy, type TestProxy } from '../helpers/proxy.js'
import { prng } from '../helpers/prng.js'

const USERS = 24
const WAVES = 10
const PAGES = 6
const SEED = Number(process.env.LEAK_PROOF_SEED ?? (Date.now() % 1_000_000))
const ESI = { 'surrogate-control': 'content="ESI/1.0"' }

const hex = (bytes: number) => randomBytes(bytes).toString('hex')

interface User { id: string; name: string; secret: string; apiToken: string; cart: number }
type TokenKind = 'name' | 'secret' | 'api-token' | 'session'
const tokenOwner = new Map<string, { user: User; kind: TokenKind }>()
const users: User[] = Array.from({ length: USERS }, (_, i) => {
  const user = { id: `u${i}`, name: `Name-${hex(6)}`, secret: `sec_${hex(12)}`, apiToken: `api_${hex(12)}`, cart: i }
  tokenOwner.set(user.name, { user, kind: 'name' })
  tokenOwner.set(user.secret, { user, kind: 'secret' })
  tokenOwner.set(user.apiToken, { user, kind: 'api-token' })
  return user
})
const userById = new Map(users.map((u) => [u.id, u]))
const userByApi = new Map(users.map((u) => [u.apiToken, u]))

function html(res: http.ServerResponse, headers: Record<string, string | string[]>, body: string): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...headers })
  res.end(body)
}

/** origin requests per path (without query) */
const originHits = new Map<string, number>()

async function startShop(): Promise<TestOrigin> {
  const sessions = new Map<string, User>()
  return startOrigin({
    '*': (req, res) => {
      const url = new URL(req.url ?? '/', 'http://shop.test')
      originHits.set(url.pathname, (originHits.get(url.pathname) ?? 0) + 1)
      const session = /(?:^|;\s*)session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1]
      const who = session ? sessions.get(session) : undefined
      const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1]
      const apiUser = bearer ? userByApi.get(bearer) : undefined
      if (url.pathname === '/login') {
        const user = userById.get(url.searchParams.get('user') ?? '')!
        const token = `ses_${hex(12)}`
        sessions.set(token, user)
        tokenOwner.set(token, { user, kind: 'session' })
        return html(res, { 'set-cookie': `session=${token}; Path=/`, 'cache-control': 'no-store' }, `welcome ${user.name}`)
      }
      if (url.pathname.startsWith('/p/')) {
        return html(res, { ...ESI, 'cache-control': 'public, max-age=60' }, `<main>${url.pathname}
<esi:include src="/f/header"/>
<esi:include src="/f/shared?p=${url.pathname.slice(3)}"/>
<esi:try><esi:attempt><esi:include src="/f/api"/></esi:attempt><esi:except>[no api]</esi:except></esi:try>
<esi:include src="/f/cart" onerror="continue"/>
<esi:vars>[cookie-echo $(HTTP_COOKIE{theme}|none)]</esi:vars></main>`)
      }
      if (url.pathname === '/f/header') {
        // a per-user fragment that is itself ESI, with a nested per-user fragment
        return html(res, { ...ESI, 'cache-control': who ? 'private, max-age=60' : 'public, max-age=60' },
          who ? `<header>Hi ${who.name} · ${who.secret} <esi:include src="/f/badge"/></header>` : '<header>Hi guest</header>')
      }
      if (url.pathname === '/f/badge') {
        return html(res, { 'cache-control': who ? 'private, max-age=60' : 'public, max-age=60' }, who ? `<i>badge of ${who.name}</i>` : '<i>no badge</i>')
      }
      if (url.pathname === '/f/shared') {
        // careless on purpose: personalised for a signed-in visitor, yet marked public
        return html(res, { 'cache-control': 'public, max-age=60' }, `<aside>shared ${url.search}${who ? ` for ${who.name}` : ''}</aside>`)
      }
      if (url.pathname === '/f/api') {
        if (!apiUser) { res.writeHead(401, { 'cache-control': 'no-store' }); res.end('unauthorized'); return }
        return html(res, { 'cache-control': 'private, max-age=60', 'content-type': 'application/json' }, JSON.stringify({ owner: apiUser.name, token: apiUser.apiToken }))
      }
      if (url.pathname === '/f/cart') {
        return html(res, { 'cache-control': 'no-store' }, who ? `<p>cart of ${who.name}: ${who.cart} · ${who.secret}</p>` : '<p>empty cart</p>')
      }
      res.writeHead(404, { 'cache-control': 'no-store' })
      res.end('not found')
    },
  })
}

const SAFE_RULES: RuleConfig[] = [
  { name: 'pages', match: { path: '/p/*' }, cache: true },
  { name: 'user fragments', match: { path: ['/f/header', '/f/badge'] }, perUser: { cookie: 'session' } },
  { name: 'api fragment', match: { path: '/f/api' }, perUser: { header: 'authorization' } },
]


interface Exchange { status: number; statusMessage: string; rawHeaders: string[]; body: string }
function send(url: string, headers: Record<string, string>, agent: http.Agent): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    }).on('error', reject)
  })
}

interface RunStats { requests: number; leaks: string[]; wrongOwner: string[]; signedInPages: number; hits: number }

async function runWorkload(baseUrl: string, seed: number, waves: number, signedInRate = 0.75): Promise<RunStats> {
  const random = prng(seed)
  const stats: RunStats = { requests: 0, leaks: [], wrongOwner: [], signedInPages: 0, hits: 0 }
  const clients = users.map((user) => ({ user, session: '', agent: new http.Agent({ keepAlive: true, maxSockets: 2 }) }))
  const check = (requester: User, what: string, ex: Exchange) => {
    stats.requests++
    const text = [ex.statusMessage, ...ex.rawHeaders, ex.body].join('\n')
    for (const token of text.match(/Name-[0-9a-f]{12}|sec_[0-9a-f]{24}|api_[0-9a-f]{24}|ses_[0-9a-f]{24}/g) ?? []) {
      const owner = tokenOwner.get(token)
      if (owner && owner.user !== requester) stats.leaks.push(`${requester.id} got ${owner.user.id}'s ${owner.kind} in ${what}`)
    }
  }
  try {
    await Promise.all(clients.map(async (c) => {
      const login = await send(`${baseUrl}/login?user=${c.user.id}`, {}, c.agent)
      check(c.user, 'login', login)
      c.session = /session=([^;]+)/.exec(login.rawHeaders.find((h) => h.startsWith('session='))!)![1]!
    }))
    for (let wave = 0; wave < waves; wave++) {
      await Promise.all(clients.flatMap((c) => Array.from({ length: 2 + Math.floor(random() * 3) }, async () => {
        const page = `/p/${Math.floor(random() * PAGES)}`
        const signedIn = random() < signedInRate
        const withApi = random() < 0.5
        const headers: Record<string, string> = {}
        const cookies = [signedIn ? `session=${c.session}` : '', random() < 0.3 ? 'theme=dark' : ''].filter(Boolean)
        if (cookies.length) headers.cookie = cookies.join('; ')
        if (withApi) headers.authorization = `Bearer ${c.user.apiToken}`
        const ex = await send(`${baseUrl}${page}`, headers, c.agent)
        check(c.user, `${page}${signedIn ? ' signed-in' : ''}${withApi ? ' +api' : ''}`, ex)
        if (/; hit/.test(ex.rawHeaders[ex.rawHeaders.findIndex((h) => h.toLowerCase() === 'cache-status') + 1] ?? '')) stats.hits++
        if (signedIn) {
          stats.signedInPages++
          if (!ex.body.includes(`Hi ${c.user.name}`) || !ex.body.includes(`badge of ${c.user.name}`)) stats.wrongOwner.push(`${c.user.id} ${page}: ${ex.status} ${ex.body.slice(0, 200)}`)
        }
        if (withApi && !ex.body.includes(c.user.apiToken)) stats.wrongOwner.push(`${c.user.id} ${page}: no own api fragment`)
      })))
    }
  } finally {
    for (const c of clients) c.agent.destroy()
  }
  return stats
}

let origin: TestOrigin
const proxies: TestProxy[] = []
before(async () => { origin = await startShop() })
after(async () => {
  for (const p of proxies) await p.close()
  await origin.close()
})

test('ESI leak proof, safe config: 24 users, concurrent, per-user and nested per-user fragments — no user ever receives another user\'s token', async () => {
  // theme only feeds $(HTTP_COOKIE{theme}) in the page: it never makes a request a user's
  const proxy = await startProxy({ origin: origin.url, rules: SAFE_RULES, cookies: { ignore: ['theme'] } })
  proxies.push(proxy)
  originHits.clear()
  const s = await runWorkload(proxy.url, SEED, WAVES)
  console.log(`esi leak-proof: ${USERS} users, ${s.requests} requests (${s.signedInPages} signed-in pages, ${s.hits} page hits), ${s.leaks.length} leaks; origin: ${[...originHits].map(([p, n]) => `${p} ${n}`).join(', ')} (seed ${SEED})`)
  assert.deepEqual(s.leaks.slice(0, 10), [])
  assert.deepEqual(s.wrongOwner.slice(0, 5), [])
  assert.ok(s.requests >= 500, `requests: ${s.requests}`)
  // the cache really worked: pages shared, each user's header and badge fetched about once per user
  assert.ok((originHits.get('/p/0') ?? 0) <= 2, `pages were shared: ${originHits.get('/p/0')}`)
  assert.ok((originHits.get('/f/header') ?? 0) <= USERS + 2, `per-user headers were cached: ${originHits.get('/f/header')} for ${s.signedInPages} signed-in pages`)
  assert.ok((originHits.get('/f/badge') ?? 0) <= USERS + 2, `nested per-user badges were cached: ${originHits.get('/f/badge')}`)
  assert.ok((originHits.get('/f/cart') ?? 0) >= s.requests - USERS, 'the live cart fragment was never cached')
})

test('the detector catches a leak: a policy that looks the header fragment up without keying it per user and stores it anyway', async () => {
  const isHeader = (path: string) => path.split('?')[0] === '/f/header'
  const policy: Policy = {
    // the classic mistake: "cache the header fragment" by forcing a lookup and overriding private
    recv: (req) => (isHeader(req.path) ? { action: 'hash' } : undefined),
    backendResponse: (res) => (isHeader(res.request.path) && res.status === 200 ? { action: 'store', ttlMs: 60_000 } : undefined),
  }
  const proxy = await startProxy({ origin: origin.url, rules: SAFE_RULES.filter((r) => r.name !== 'user fragments'), cookies: { ignore: ['theme'] } }, policy)
  proxies.push(proxy)
  // everybody signed in: the first header stored for all is some user's (a guest's first would hide the mistake)
  const s = await runWorkload(proxy.url, SEED + 1, 3, 1)
  console.log(`esi leak-proof (unsafe policy on the header fragment): ${s.requests} requests, ${s.leaks.length} leaks, e.g. ${s.leaks[0]}`)
  assert.ok(s.leaks.length > 0, 'the detector must report the leak')
})
