/**
 * u001: leak proof. Lacquer in front of a shop that renders per-user content (each user's
 * name, a secret per-user token, an API token, a cart count; Set-Cookie on login) is driven by
 * 24 simulated users making interleaved and concurrent requests over every kind of route:
 * public pages (personalised by the origin when it sees a session), assets on a `cache` rule,
 * per-user pages on `perUser` rules keyed by the session cookie or by Authorization, a passed
 * cart, POSTs, no-store pages, must-revalidate fragments with ETag/Last-Modified, slow per-user
 * routes whose concurrent cold misses coalesce, with and without analytics cookies (_ga, _gid),
 * HEAD, and If-None-Match / If-Modified-Since. Like many apps, the account page also accepts the
 * API token, and is first opened from the "mobile app" (Bearer, no session cookie) before any
 * browser asks for it, so the per-user route's anonymous copy starts cold. Every token is a unique random string known to
 * the test; a detector checks every response (status line, every header line, body) for any
 * token that belongs to a user other than the one who asked. The safe config must give 0 leaks.
 * The detector is shown able to fail: the same workload through Lacquer with deliberately
 * unsafe configs must be caught leaking.
 *
 * The interleaving is random; the seed is logged (set LEAK_PROOF_SEED to replay one).
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import { after, before, test } from 'node:test'
import type { Policy, ProxyOptions, RuleConfig } from '../../src/index.js'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { startProxy, type TestProxy } from '../helpers/proxy.js'
import { prng } from '../helpers/prng.js'

const USERS = 24
const WAVES = 12
const SLOW_MS = 150
const SEED = Number(process.env.LEAK_PROOF_SEED ?? (Date.now() % 1_000_000))

// ── users and their tokens ──────────────────────────────────────────────────

const hex = (bytes: number) => randomBytes(bytes).toString('hex')

interface User {
  id: string
  /** shown on every per-user page */
  name: string
  /** a secret per-user token the origin renders on per-user pages */
  secret: string
  /** the user's API token (Authorization: Bearer) */
  apiToken: string
  ga: string
  gid: string
  cart: number
}

type TokenKind = 'name' | 'secret' | 'api-token' | 'session'
/** every token ever issued → its owner (session tokens are added as the origin issues them) */
const tokenOwner = new Map<string, { user: User; kind: TokenKind }>()

const users: User[] = Array.from({ length: USERS }, (_, i) => {
  const user: User = {
    id: `u${i}`,
    name: `Name-${hex(6)}`,
    secret: `sec_${hex(12)}`,
    apiToken: `api_${hex(12)}`,
    ga: `GA1.2.${hex(5)}.${hex(5)}`,
    gid: `GA1.2.${hex(5)}.${hex(5)}`,
    cart: 0,
  }
  tokenOwner.set(user.name, { user, kind: 'name' })
  tokenOwner.set(user.secret, { user, kind: 'secret' })
  tokenOwner.set(user.apiToken, { user, kind: 'api-token' })
  return user
})
const userById = new Map(users.map((u) => [u.id, u]))
const userByApiToken = new Map(users.map((u) => [u.apiToken, u]))

// ── the origin: a small shop ────────────────────────────────────────────────

function parseCookieHeader(header: string | undefined): Map<string, string> {
  const jar = new Map<string, string>()
  for (const pair of (header ?? '').split(';')) {
    const at = pair.indexOf('=')
    if (at > 0 && !jar.has(pair.slice(0, at).trim())) jar.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim())
  }
  return jar
}

/** first time the origin rendered a body with this ETag: its Last-Modified */
const firstRendered = new Map<string, number>()
const ORIGIN_EPOCH = Date.now() - 3_600_000

/**
 * Answers with the body, with an ETag (hash of the body) and a Last-Modified when `validators`,
 * and a 304 when the request's If-None-Match / If-Modified-Since says the client has it.
 */
function reply(req: http.IncomingMessage, res: http.ServerResponse, status: number, headers: Record<string, string>, body: string, validators: boolean): void {
  const out: Record<string, string> = { 'content-type': 'text/html; charset=utf-8', ...headers }
  if (validators && status === 200) {
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`
    if (!firstRendered.has(etag)) firstRendered.set(etag, ORIGIN_EPOCH + firstRendered.size * 1000)
    out.etag = etag
    out['last-modified'] = new Date(firstRendered.get(etag)!).toUTCString()
    const inm = req.headers['if-none-match']
    const ims = req.headers['if-modified-since']
    const isNotModified = inm !== undefined
      ? inm.split(',').map((t) => t.trim().replace(/^W\//, '')).some((t) => t === etag || t === '*')
      : ims !== undefined && Date.parse(ims) >= firstRendered.get(etag)!
    if (isNotModified) {
      res.writeHead(304, { etag, 'last-modified': out['last-modified'], 'cache-control': out['cache-control'] ?? '' })
      res.end()
      return
    }
  }
  out['content-length'] = String(Buffer.byteLength(body))
  res.writeHead(status, out)
  res.end(body)
}

interface Shop {
  origin: TestOrigin
  /** origin requests per path (without query) */
  hits: Map<string, number>
}

/** The shop's origin; `sessionCookie` is the name of its session cookie. */
async function startShop(sessionCookie = 'session'): Promise<Shop> {
  const sessions = new Map<string, User>()
  const hits = new Map<string, number>()
  const origin = await startOrigin({
    '*': async (req, res, reqBody) => {
      const url = new URL(req.url ?? '/', 'http://shop.test')
      const path = url.pathname
      hits.set(path, (hits.get(path) ?? 0) + 1)
      const sessionUser = sessions.get(parseCookieHeader(req.headers.cookie).get(sessionCookie) ?? '')
      const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1]
      const bearerUser = bearer ? userByApiToken.get(bearer) : undefined

      if (path === '/login') {
        const user = userById.get(url.searchParams.get('user') ?? new URLSearchParams(reqBody).get('user') ?? '')
        if (!user) return reply(req, res, 400, { 'cache-control': 'no-store' }, 'who?', false)
        const token = `ses_${hex(12)}`
        sessions.set(token, user)
        tokenOwner.set(token, { user, kind: 'session' })
        // careless on purpose: a GET login says it is cacheable (Set-Cookie must keep it private)
        return reply(req, res, 200, {
          'set-cookie': `${sessionCookie}=${token}; Path=/; HttpOnly; SameSite=Lax`,
          'cache-control': req.method === 'GET' ? 'max-age=60' : 'no-cache',
        }, `<h1>Welcome, ${user.name}</h1>`, false)
      }
      if (path === '/public/slow') await sleep(SLOW_MS)
      if (path.startsWith('/public/')) {
        // careless on purpose: personalised for a signed-in visitor, yet marked public
        const nav = sessionUser ? `<nav>Signed in as ${sessionUser.name} · cart ${sessionUser.cart}</nav>` : '<nav>Sign in</nav>'
        return reply(req, res, 200, { 'cache-control': 'public, max-age=60' }, `<h1>Public ${path}</h1>${nav}`, true)
      }
      if (path.startsWith('/assets/')) {
        const who = sessionUser ? `/* built for ${sessionUser.name} */` : ''
        return reply(req, res, 200, { 'cache-control': 'max-age=60', 'content-type': 'text/css' }, `body{color:#333}${who}`, true)
      }
      if (path === '/account') {
        // like many apps, the account page accepts the session cookie or an API token
        const who = sessionUser ?? bearerUser
        if (!who) return reply(req, res, 200, { 'cache-control': 'private, max-age=60', vary: 'Cookie' }, '<h1>Please sign in</h1>', true)
        return reply(req, res, 200, { 'cache-control': 'private, max-age=60', vary: 'Cookie', 'x-account-owner': who.name },
          `<h1>Account of ${who.name}</h1><p>token ${who.secret}</p><p>cart: ${who.cart}</p>`, true)
      }
      if (path === '/api/me') {
        const who = bearerUser ?? sessionUser
        if (!who) return reply(req, res, 401, { 'www-authenticate': 'Bearer', 'cache-control': 'no-store' }, '{"error":"unauthorized"}', false)
        return reply(req, res, 200, { 'cache-control': 'private, max-age=30, must-revalidate', 'content-type': 'application/json' },
          JSON.stringify({ name: who.name, token: who.apiToken, secret: who.secret, cart: who.cart }), true)
      }
      if (path === '/cart') {
        // careless on purpose: says cacheable (the config passes it)
        return reply(req, res, 200, { 'cache-control': 'max-age=60' },
          sessionUser ? `<h1>Cart of ${sessionUser.name}</h1><p>${sessionUser.cart} items</p><p>${sessionUser.secret}</p>` : '<h1>Empty cart</h1>', false)
      }
      if (path === '/cart/add' && req.method === 'POST') {
        if (!sessionUser) return reply(req, res, 403, { 'cache-control': 'no-store' }, 'sign in first', false)
        sessionUser.cart++
        return reply(req, res, 200, { 'cache-control': 'no-store' }, `cart of ${sessionUser.name}: ${sessionUser.cart}`, false)
      }
      if (path === '/orders') {
        await sleep(50)
        return reply(req, res, 200, { 'cache-control': 'no-store' },
          sessionUser ? `<h1>Orders of ${sessionUser.name}</h1><p>${sessionUser.secret}</p>` : '<h1>No orders</h1>', false)
      }
      if (path === '/header-fragment') {
        return reply(req, res, 200, { 'cache-control': 'private, max-age=0, must-revalidate' },
          sessionUser ? `<header>Hi ${sessionUser.name} · ${sessionUser.cart} items · ${sessionUser.secret}</header>` : '<header>Hi guest</header>', true)
      }
      if (path === '/slow/dashboard') {
        await sleep(SLOW_MS)
        return reply(req, res, 200, { 'cache-control': 'private, max-age=60' },
          sessionUser ? `<h1>Dashboard of ${sessionUser.name}</h1><p>${sessionUser.secret}</p>` : '<h1>Dashboard: sign in</h1>', true)
      }
      if (path === '/slow/feed') {
        await sleep(SLOW_MS)
        if (!bearerUser) return reply(req, res, 401, { 'www-authenticate': 'Bearer', 'cache-control': 'no-store' }, '{"error":"unauthorized"}', false)
        return reply(req, res, 200, { 'cache-control': 'private, max-age=60', 'content-type': 'application/json', 'x-feed-owner': bearerUser.name },
          JSON.stringify({ owner: bearerUser.name, token: bearerUser.apiToken }), true)
      }
      return reply(req, res, 404, { 'cache-control': 'no-store' }, 'not found', false)
    },
  })
  return { origin, hits }
}

// ── configs ─────────────────────────────────────────────────────────────────

const SAFE_RULES: RuleConfig[] = [
  { name: 'assets', match: { path: '/assets/**' }, cache: true, ttl: '60s' },
  { name: 'account', match: { path: '/account' }, perUser: { cookie: 'session' } },
  { name: 'fragment', match: { path: '/header-fragment' }, perUser: { cookie: 'session' } },
  { name: 'dashboard', match: { path: '/slow/dashboard' }, perUser: { cookie: 'session' } },
  { name: 'orders', match: { path: '/orders' }, perUser: { cookie: 'session' } },
  { name: 'api', match: { path: ['/api/me', '/slow/feed'] }, perUser: { header: 'authorization' } },
  { name: 'cart', match: { path: '/cart' }, pass: true },
]

// ── a client that records everything ────────────────────────────────────────

interface Exchange {
  status: number
  statusMessage: string
  rawHeaders: string[]
  body: string
}

function send(url: string, method: string, headers: Record<string, string>, agent: http.Agent | false, body?: string): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}


interface Leak {
  requester: string
  owner: string
  kind: TokenKind
  where: string
  request: string
}

interface RunStats {
  seed: number
  users: number
  requests: number
  leaks: Leak[]
  /** leaks per route label */
  leakRoutes: Map<string, number>
  hits: number
  collapsed: number
  notModified: number
  heads: number
  /** requests per route label */
  routes: Map<string, number>
  /** hits per route label */
  routeHits: Map<string, number>
  /** a signed-in user's per-user page that did not show that user's own name */
  wrongOwner: string[]
}

type CookieVariant = 'none' | 'analytics' | 'session' | 'session+analytics'

interface Client {
  user: User
  /** the current session cookie value, after login */
  session?: string
  agent: http.Agent
  /** validators last seen per path, for conditional requests */
  etags: Map<string, string>
  lastModified: Map<string, string>
}

interface Step {
  route: string
  method: 'GET' | 'HEAD' | 'POST'
  path: string
  headers: Record<string, string>
  body?: string
  /** a signed-in request to a per-user route: the page must be this user's */
  expectsOwner?: boolean
}

function header(raw: string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) return raw[i + 1]
  return undefined
}

/**
 * Drives one Lacquer with the users: logins, a wave of concurrent cold misses per user, then
 * random interleaved waves over every route. Returns what the detector saw.
 */
async function runWorkload(proxyUrl: string, options: { seed: number; waves: number; sessionCookie?: string }): Promise<RunStats> {
  const random = prng(options.seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
  const sessionCookie = options.sessionCookie ?? 'session'
  const shared = new http.Agent({ keepAlive: true, maxSockets: 32 })
  const stats: RunStats = {
    seed: options.seed, users: 0, requests: 0, leaks: [], leakRoutes: new Map(), hits: 0, collapsed: 0, notModified: 0, heads: 0,
    routes: new Map(), routeHits: new Map(), wrongOwner: [],
  }
  const requesters = new Set<string>()
  const clients: Client[] = users.map((user) => ({ user, agent: new http.Agent({ keepAlive: true }), etags: new Map(), lastModified: new Map() }))

  const cookieHeader = (c: Client, variant: CookieVariant): string | undefined => {
    const analytics = [`_ga=${c.user.ga}`, `_gid=${c.user.gid}`]
    if (!c.session && (variant === 'session' || variant === 'session+analytics')) variant = 'analytics'
    switch (variant) {
      case 'none': return undefined
      case 'analytics': return analytics.join('; ')
      case 'session': return `${sessionCookie}=${c.session}`
      case 'session+analytics': {
        const parts = [...analytics]
        parts.splice(Math.floor(random() * 3), 0, `${sessionCookie}=${c.session}`)
        return parts.join('; ')
      }
    }
  }
  const withCookies = (c: Client, variant: CookieVariant, extra: Record<string, string> = {}): Record<string, string> => {
    const cookie = cookieHeader(c, variant)
    return cookie ? { ...extra, cookie } : extra
  }
  const anyCookies = (): CookieVariant => pick(['none', 'analytics', 'session', 'session+analytics'] as const)
  const signedIn = (): CookieVariant => pick(['session', 'session+analytics'] as const)
  const bearer = (c: Client, analytics: boolean): Record<string, string> => ({
    authorization: `Bearer ${c.user.apiToken}`, ...(analytics ? { cookie: `_ga=${c.user.ga}; _gid=${c.user.gid}` } : {}),
  })
  /** a conditional request with the validators this client last saw for the path (or made-up ones) */
  const conditional = (c: Client, path: string): Record<string, string> => {
    const etag = c.etags.get(path)
    const lm = c.lastModified.get(path)
    const choice = random()
    if (choice < 0.5 && etag) return { 'if-none-match': etag }
    if (choice < 0.8 && lm) return { 'if-modified-since': lm }
    if (choice < 0.9) return { 'if-none-match': '"not-a-current-etag"' }
    return { 'if-modified-since': new Date().toUTCString() }
  }

  async function exchange(c: Client, step: Step): Promise<void> {
    const agent = pick([c.agent, c.agent, shared, false] as const)
    const res = await send(`${proxyUrl}${step.path}`, step.method, step.headers, agent, step.body)
    stats.requests++
    requesters.add(c.user.id)
    stats.routes.set(step.route, (stats.routes.get(step.route) ?? 0) + 1)
    if (step.method === 'HEAD') stats.heads++
    if (res.status === 304) stats.notModified++
    const cacheStatus = header(res.rawHeaders, 'cache-status') ?? ''
    if (/; hit(;|$)/.test(cacheStatus)) {
      stats.hits++
      stats.routeHits.set(step.route, (stats.routeHits.get(step.route) ?? 0) + 1)
    }
    if (/; collapsed/.test(cacheStatus)) stats.collapsed++
    // the detector: every part of the response, against every token of every other user
    const parts: Array<[string, string]> = [['status line', `${res.status} ${res.statusMessage}`], ['body', res.body]]
    for (let i = 0; i < res.rawHeaders.length; i += 2) parts.push([`header ${res.rawHeaders[i]}`, res.rawHeaders[i + 1]!])
    for (const [token, { user: owner, kind }] of tokenOwner) {
      if (owner === c.user) continue
      for (const [where, text] of parts) {
        if (!text.includes(token)) continue
        const shown = Object.entries(step.headers).map(([k, v]) => `${k}: ${v}`).join(' | ')
        stats.leaks.push({ requester: c.user.id, owner: owner.id, kind, where, request: `${step.method} ${step.path} [${shown}] → ${res.status} ${cacheStatus}` })
        stats.leakRoutes.set(step.route, (stats.leakRoutes.get(step.route) ?? 0) + 1)
      }
    }
    // and a signed-in user's own page is that user's (not an anonymous one, not someone else's)
    if (step.expectsOwner && step.method === 'GET' && res.status === 200 && !res.body.includes(c.user.name)) {
      stats.wrongOwner.push(`${c.user.id} (${step.route}): ${step.method} ${step.path} → ${res.body.slice(0, 80)} (${cacheStatus})`)
    }
    if (res.status === 200) {
      const etag = header(res.rawHeaders, 'etag')
      const lm = header(res.rawHeaders, 'last-modified')
      if (etag) c.etags.set(step.path, etag)
      if (lm) c.lastModified.set(step.path, lm)
    }
    const setCookie = header(res.rawHeaders, 'set-cookie')
    const issued = setCookie && new RegExp(`^${sessionCookie}=([^;]+)`).exec(setCookie)?.[1]
    // a browser keeps whatever cookie it is given; whether it was the user's own is the detector's business
    if (issued) c.session = issued
  }

  const login = (c: Client): Step => (random() < 0.5
    ? { route: 'login GET', method: 'GET', path: `/login?user=${c.user.id}`, headers: withCookies(c, pick(['none', 'analytics'] as const)) }
    : { route: 'login POST', method: 'POST', path: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded', ...withCookies(c, anyCookies()) }, body: `user=${c.user.id}` })

  /** One random step over every kind of route. */
  const randomStep = (c: Client): Step => {
    const k = Math.floor(random() * 6)
    const steps: Array<() => Step> = [
      () => ({ route: 'public', method: 'GET', path: `/public/p${k}`, headers: withCookies(c, anyCookies()) }),
      () => ({ route: 'public HEAD', method: 'HEAD', path: `/public/p${k}`, headers: withCookies(c, anyCookies()) }),
      () => ({ route: 'public conditional', method: 'GET', path: `/public/p${k}`, headers: withCookies(c, anyCookies(), conditional(c, `/public/p${k}`)) }),
      () => ({ route: 'public tracking params', method: 'GET', path: `/public/p${k}?utm_source=mail&utm_campaign=${c.user.id}`, headers: withCookies(c, anyCookies()) }),
      () => ({ route: 'assets (cache rule)', method: 'GET', path: `/assets/app${k}.css`, headers: withCookies(c, anyCookies()) }),
      () => ({ route: 'account', method: 'GET', path: '/account', headers: withCookies(c, signedIn()), expectsOwner: true }),
      () => ({ route: 'account', method: 'GET', path: '/account', headers: withCookies(c, signedIn()), expectsOwner: true }),
      () => ({ route: 'account anonymous', method: 'GET', path: '/account', headers: withCookies(c, pick(['none', 'analytics'] as const)) }),
      () => ({ route: 'account HEAD', method: 'HEAD', path: '/account', headers: withCookies(c, anyCookies()) }),
      () => ({ route: 'account conditional', method: 'GET', path: '/account', headers: withCookies(c, signedIn(), conditional(c, '/account')), expectsOwner: true }),
      () => ({ route: 'account tracking params', method: 'GET', path: `/account?utm_source=mail&fbclid=${hex(4)}`, headers: withCookies(c, signedIn()), expectsOwner: true }),
      // no session cookie: on this route such a request is an anonymous one for the key (it may get
      // the anonymous page), but whatever it gets must not be another user's
      () => ({ route: 'account with API token', method: 'GET', path: '/account', headers: bearer(c, random() < 0.5) }),
      () => ({ route: 'api/me', method: 'GET', path: '/api/me', headers: bearer(c, random() < 0.5), expectsOwner: true }),
      () => ({ route: 'api/me HEAD', method: 'HEAD', path: '/api/me', headers: bearer(c, random() < 0.5) }),
      () => ({ route: 'api/me conditional', method: 'GET', path: '/api/me', headers: { ...bearer(c, random() < 0.5), ...conditional(c, '/api/me') }, expectsOwner: true }),
      () => ({ route: 'api/me with session', method: 'GET', path: '/api/me', headers: withCookies(c, signedIn()), expectsOwner: true }),
      () => ({ route: 'cart (pass rule)', method: 'GET', path: '/cart', headers: withCookies(c, signedIn()), expectsOwner: true }),
      () => ({ route: 'cart add (POST)', method: 'POST', path: '/cart/add', headers: withCookies(c, signedIn()) }),
      () => ({ route: 'orders (no-store)', method: 'GET', path: '/orders', headers: withCookies(c, signedIn()), expectsOwner: true }),
      () => ({ route: 'header-fragment', method: 'GET', path: '/header-fragment', headers: withCookies(c, signedIn()), expectsOwner: true }),
      () => ({ route: 'header-fragment HEAD', method: 'HEAD', path: '/header-fragment', headers: withCookies(c, anyCookies()) }),
      () => ({ route: 'header-fragment conditional', method: 'GET', path: '/header-fragment', headers: withCookies(c, signedIn(), conditional(c, '/header-fragment')), expectsOwner: true }),
      () => ({ route: 'slow dashboard', method: 'GET', path: '/slow/dashboard', headers: withCookies(c, signedIn()), expectsOwner: true }),
      () => ({ route: 'slow feed', method: 'GET', path: '/slow/feed', headers: bearer(c, random() < 0.5), expectsOwner: true }),
      () => ({ route: 'public slow', method: 'GET', path: '/public/slow', headers: withCookies(c, anyCookies()) }),
    ]
    return pick(steps)()
  }

  /** a chain of steps one after another (a browser tab); several chains per user run at once */
  const chain = async (c: Client, count: number) => {
    for (let i = 0; i < count; i++) {
      // now and then the user signs in again: a new session token, the old pages stay theirs
      await exchange(c, random() < 0.03 ? login(c) : randomStep(c))
    }
  }

  try {
    // before signing in: public pages, with analytics cookies or none
    await Promise.all(clients.map((c, i) => exchange(c, { route: 'public', method: 'GET', path: `/public/p${i % 6}`, headers: withCookies(c, pick(['none', 'analytics'] as const)) })))
    // everybody signs in at once
    await Promise.all(clients.map((c) => exchange(c, login(c))))
    // cold misses, many per user at once: each user's coalesce with that user's only. The
    // account page is first opened from the mobile app (API token, no session cookie), before
    // any browser asks for it: nothing is stored for it yet, for anybody
    await Promise.all(clients.flatMap((c) => [
      ...Array.from({ length: 2 }, () => exchange(c, { route: 'account with API token', method: 'GET', path: '/account', headers: bearer(c, random() < 0.5) })),
      ...Array.from({ length: 4 }, () => exchange(c, { route: 'slow dashboard', method: 'GET', path: '/slow/dashboard', headers: withCookies(c, signedIn()), expectsOwner: true })),
      exchange(c, { route: 'slow dashboard HEAD', method: 'HEAD', path: '/slow/dashboard', headers: withCookies(c, signedIn()) }),
      ...Array.from({ length: 4 }, () => exchange(c, { route: 'slow feed', method: 'GET', path: '/slow/feed', headers: bearer(c, random() < 0.5), expectsOwner: true })),
      ...Array.from({ length: 2 }, () => exchange(c, { route: 'public slow', method: 'GET', path: '/public/slow', headers: withCookies(c, anyCookies()) })),
    ]))
    // interleaved waves: every user at once, two tabs each, over every kind of route
    for (let wave = 0; wave < options.waves; wave++) {
      await Promise.all(clients.flatMap((c) => [chain(c, 2 + Math.floor(random() * 3)), chain(c, 1 + Math.floor(random() * 3))]))
    }
  } finally {
    shared.destroy()
    for (const c of clients) c.agent.destroy()
  }
  stats.users = requesters.size
  return stats
}

function summary(label: string, s: RunStats): string {
  return `${label}: ${s.users} users, ${s.requests} requests, ${s.leaks.length} leaks`
    + ` (hits ${s.hits}, coalesced ${s.collapsed}, 304 ${s.notModified}, HEAD ${s.heads}; seed ${s.seed})`
}

function describeLeaks(s: RunStats, max = 12): string {
  const routes = [...s.leakRoutes].map(([route, n]) => `${route}: ${n}`).join(', ')
  return `leaks by route: ${routes}\n${s.leaks.slice(0, max).map((l) => `  ${l.requester} got ${l.owner}'s ${l.kind} in ${l.where}: ${l.request}`).join('\n')}`
}

// ── the tests ───────────────────────────────────────────────────────────────

let shop: Shop
const proxies: TestProxy[] = []

async function proxyFor(rules: RuleConfig[], extra: Partial<ProxyOptions> = {}, policy?: Policy, target = shop): Promise<TestProxy> {
  const proxy = await startProxy({ origin: target.origin.url, rules, ...extra }, policy)
  proxies.push(proxy)
  return proxy
}

before(async () => { shop = await startShop() })
after(async () => {
  for (const proxy of proxies) await proxy.close()
  await shop.origin.close()
})

test('safe config: 24 users, interleaved and concurrent over every route — no user ever receives another user\'s token', async () => {
  const startedAt = Date.now()
  const proxy = await proxyFor(SAFE_RULES)
  const s = await runWorkload(proxy.url, { seed: SEED, waves: WAVES })
  console.log(`leak-proof: ${s.users} users, ${s.requests} requests, ${s.leaks.length} leaks`)
  console.log(summary('leak-proof (safe config)', s), `in ${Date.now() - startedAt} ms`)
  console.log(`  routes: ${[...s.routes].map(([r, n]) => `${r} ${n}${s.routeHits.get(r) ? ` (${s.routeHits.get(r)} hits)` : ''}`).join(', ')}`)
  assert.equal(s.leaks.length, 0, describeLeaks(s))
  assert.ok(s.users >= 20, `users: ${s.users}`)
  assert.ok(s.requests >= 500, `requests: ${s.requests}`)
  assert.deepEqual(s.wrongOwner, [], 'a signed-in user\'s page was not that user\'s')
  // the workload really exercised the cache: per-user hits, coalescing, 304s, HEAD
  for (const route of ['account', 'api/me', 'slow dashboard', 'slow feed', 'public', 'assets (cache rule)']) {
    assert.ok((s.routeHits.get(route) ?? 0) > 0, `no hit on ${route}`)
  }
  assert.ok(s.collapsed > 0, 'some concurrent misses were coalesced')
  assert.ok(s.notModified > 0, 'some conditional requests were answered 304')
  assert.ok(s.heads > 0)
  // each user's cold slow pages were fetched about once per user, not once per request
  assert.ok((shop.hits.get('/slow/dashboard') ?? 0) < s.routes.get('slow dashboard')!, 'per-user coalescing/caching saved origin requests')
  assert.ok(Date.now() - startedAt < 15_000, `took ${Date.now() - startedAt} ms`)
})

test('the detector catches a leak: perUser keyed by the wrong credential, a header every client sends alike (Host)', async () => {
  // the mistake: "one copy per user" keyed by something that is not the user's identity
  const unsafe = SAFE_RULES.map((rule) => (rule.name === 'api' ? { ...rule, perUser: { header: 'host' } } : rule))
  const proxy = await proxyFor(unsafe)
  const s = await runWorkload(proxy.url, { seed: SEED + 1, waves: 4 })
  console.log(summary('leak-proof (unsafe: perUser keyed by Host)', s))
  console.log(`  ${describeLeaks(s, 3)}`)
  assert.ok(s.leaks.length > 0, 'the detector must report the leak')
  assert.ok([...s.leakRoutes.keys()].some((r) => r.startsWith('api/me') || r === 'slow feed'), [...s.leakRoutes.keys()].join(', '))
})

test('the detector catches a leak: a policy that looks /account up without keying it per user and stores it anyway', async () => {
  const policy: Policy = {
    // the classic mistake: "cache the account page" by forcing a lookup and overriding private
    recv: (req) => (req.path.split('?')[0] === '/account' && (req.method === 'GET' || req.method === 'HEAD') ? { action: 'hash' } : undefined),
    backendResponse: (res) => (res.request.path.split('?')[0] === '/account' && res.status === 200 ? { action: 'store', ttlMs: 60_000 } : undefined),
  }
  const proxy = await proxyFor(SAFE_RULES.filter((rule) => rule.name !== 'account'), {}, policy)
  const s = await runWorkload(proxy.url, { seed: SEED + 2, waves: 4 })
  console.log(summary('leak-proof (unsafe policy on /account)', s))
  console.log(`  ${describeLeaks(s, 3)}`)
  assert.ok(s.leaks.length > 0, 'the detector must report the leak')
  assert.ok([...s.leakRoutes.keys()].some((r) => r.startsWith('account')), [...s.leakRoutes.keys()].join(', '))
})
