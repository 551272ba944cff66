/**
 * @module demo/site
 * The built-in sample shop behind `lacquer demo` (DESIGN.md §1): product pages cached for
 * everybody, a header fragment with the signed-in user's name and cart count cached per user,
 * a stock count never cached — assembled by Lacquer with ESI (`Surrogate-Control:
 * content="ESI/1.0"`). A login sets a session cookie, add-to-cart changes the cart, and
 * `/report` shows what Lacquer served from cache for each fragment (the admin port's `GET /esi`).
 * The single-case pages of the first demo stay: /cached, /slow, /vary, /login, /api/me.
 */
import http from 'node:http'

const GREETINGS: Record<string, string> = { en: 'Hello', fr: 'Bonjour', de: 'Hallo', es: 'Hola' }

export const PRODUCTS = [
  { id: 1, name: 'Lacquered tea tray', price: 39, blurb: 'Urushi on cypress, seven coats. Cached for everybody.' },
  { id: 2, name: 'Sake cups (pair)', price: 24, blurb: 'Red and black, polished by hand.' },
  { id: 3, name: 'Bento box', price: 58, blurb: 'Two tiers, a lid that closes with a sigh.' },
  { id: 4, name: 'Chopsticks', price: 12, blurb: 'Five layers of lacquer on chestnut.' },
] as const

const ESI = { 'surrogate-control': 'content="ESI/1.0"' }

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function page(title: string, body: string, options: { header?: boolean } = {}): string {
  const header = options.header
    // the per-user header: its URL carries the cart version, so adding to the cart makes a new copy
    ? '<esi:include src="/fragments/header?cart=$(HTTP_COOKIE{cart}|0)" alt="/fragments/header" onerror="continue"/>'
    : '<nav><a href="/">Shop</a> · <a href="/report">What was cached</a> · <a href="/cases">Caching cases</a></nav>'
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title} · Lacquer demo</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .25rem}
header,nav{background:#f6f1e7;padding:.5rem 1rem;border-radius:.5rem}.stock{color:#0a6}td,th{padding:.2rem .6rem;text-align:left}</style>
</head><body>${header}
<h1>${title}</h1>
${body}
<p><small>Page rendered by the origin at ${new Date().toISOString()}. Look at the <code>Cache-Status</code> response header.</small></p>
</body></html>
`
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=')
    if (at > 0) out[part.slice(0, at).trim()] = decodeURIComponent(part.slice(at + 1).trim())
  }
  return out
}

export interface DemoSiteStats {
  requests: number
}

export interface DemoSiteOptions {
  /** the admin port, read by /report (GET /esi) */
  adminUrl?: string
  stats?: DemoSiteStats
}

export function createDemoSite(options: DemoSiteOptions = {}): http.Server & { adminUrl?: string } {
  const stats = options.stats ?? { requests: 0 }
  /** session token → user name, and each user's cart */
  const sessions = new Map<string, string>()
  const carts = new Map<string, number>()
  const stock = new Map<number, number>(PRODUCTS.map((p) => [p.id, 20 + p.id * 7]))
  const server: http.Server & { adminUrl?: string } = http.createServer((req, res) => {
    stats.requests++
    const url = new URL(req.url ?? '/', 'http://demo.local')
    const session = parseCookies(req.headers.cookie).session
    const user = session ? sessions.get(session) ?? session.split('-')[0] : undefined
    const send = (status: number, headers: Record<string, string | string[]>, body: string) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...headers })
      res.end(req.method === 'HEAD' ? undefined : body)
    }
    const product = /^\/products\/(\d+)$/.exec(url.pathname)
    const stockOf = /^\/fragments\/stock\/(\d+)$/.exec(url.pathname)
    if (url.pathname === '/') {
      const rows = PRODUCTS.map((p) => `<li><a href="/products/${p.id}">${p.name}</a> — ${p.price} € · <esi:include src="/fragments/stock/${p.id}" onerror="continue"/></li>`)
      return send(200, { ...ESI, 'cache-control': 'public, max-age=60', 'surrogate-key': 'products' }, page('Lacquer shop', `
<p>This page is cached by Lacquer for everybody. The header above is cached once per signed-in
user; the stock counts are never cached. Lacquer fetches the fragments in parallel and puts the
page together (ESI).</p>
<ul>${rows.join('\n')}</ul>`, { header: true }))
    }
    if (product) {
      const p = PRODUCTS.find((x) => x.id === Number(product[1]))
      if (!p) return send(404, { 'cache-control': 'public, max-age=10' }, page('Not found', '<p>No such product.</p>'))
      // tagged, so a price change can purge the product everywhere: `lacquer purge --tag product-1`
      return send(200, { ...ESI, 'cache-control': 'public, max-age=60', 'surrogate-key': `product-${p.id} products` }, page(p.name, `
<p>${p.blurb}</p><p><b>${p.price} €</b> ·
<esi:try><esi:attempt><esi:include src="/fragments/stock/${p.id}"/></esi:attempt><esi:except>stock unknown</esi:except></esi:try></p>
<form method="post" action="/cart/add?id=${p.id}"><button>Add to cart</button></form>
<p><a href="/">Back to the shop</a></p>`, { header: true }))
    }
    if (url.pathname === '/fragments/header') {
      const count = user && session ? carts.get(session) ?? 0 : 0
      const body = user
        ? `<header>Signed in as <b>${escapeHtml(user)}</b> · cart: ${count} item${count === 1 ? '' : 's'} · <a href="/logout">log out</a> · <a href="/report">what was cached</a> <small>(header rendered ${new Date().toISOString()})</small></header>`
        : '<header><a href="/login?user=alice">Log in as alice</a> · <a href="/login?user=bob">as bob</a> · <a href="/report">what was cached</a></header>'
      // a user's header: cached once per user by the perUser rule (private is fine in a per-user entry)
      return send(200, { 'cache-control': user ? 'private, max-age=300' : 'public, max-age=300' }, body)
    }
    if (stockOf) {
      const id = Number(stockOf[1])
      const left = stock.get(id)
      if (left === undefined) return send(404, { 'cache-control': 'no-store' }, 'unknown product')
      // live: never cached, each page view asks again
      return send(200, { 'cache-control': 'no-store' }, `<span class="stock">${left} in stock (at ${new Date().toISOString().slice(11, 23)})</span>`)
    }
    if (url.pathname === '/login') {
      const name = (url.searchParams.get('user') ?? 'alice').replace(/[^a-z0-9]/gi, '').slice(0, 20) || 'alice'
      const token = `${name}-${Math.random().toString(36).slice(2)}`
      sessions.set(token, name)
      return send(200, { 'set-cookie': [`session=${token}; Path=/; HttpOnly`, 'cart=0; Path=/'], 'cache-control': 'no-store' },
        page('Logged in', `<p>You are now logged in as <b>${name}</b> (a <code>session</code> cookie was set). <a href="/">Back to the shop</a>.</p>`))
    }
    if (url.pathname === '/logout') {
      return send(200, { 'set-cookie': ['session=; Path=/; Max-Age=0', 'cart=; Path=/; Max-Age=0'], 'cache-control': 'no-store' }, page('Logged out', '<p><a href="/">Back to the shop</a></p>'))
    }
    if (url.pathname === '/cart/add' && req.method === 'POST') {
      req.resume()
      const id = Number(url.searchParams.get('id'))
      if (!session || !user) return send(403, { 'cache-control': 'no-store' }, page('Sign in first', '<p><a href="/login?user=alice">Log in</a></p>'))
      const left = stock.get(id)
      if (left === undefined) return send(404, { 'cache-control': 'no-store' }, page('Not found', '<p>No such product.</p>'))
      if (left > 0) stock.set(id, left - 1)
      const count = (carts.get(session) ?? 0) + 1
      carts.set(session, count)
      // the cart cookie is the header fragment's version: the next page includes a new header URL
      return send(200, { 'set-cookie': `cart=${count}; Path=/`, 'cache-control': 'no-store' },
        page('Added to your cart', `<p>${count} item${count === 1 ? '' : 's'} in your cart. <a href="/products/${id}">Back to the product</a>.</p>`))
    }
    if (url.pathname === '/report') {
      void report(server.adminUrl).then((body) => send(200, { 'cache-control': 'no-store' }, body))
      return
    }
    return legacy(req, url, session, send)
  })
  server.adminUrl = options.adminUrl
  return server
}

/** The admin port's GET /esi as a table: each page Lacquer assembled, each fragment's Cache-Status. */
async function report(adminUrl: string | undefined): Promise<string> {
  if (!adminUrl) return page('What was cached', '<p>The admin port is off: no report.</p>')
  let pages: Array<{ url: string; at: number; cacheStatus: string; state: string; fragments: Array<{ url: string; depth: number; status: number; cacheStatus: string; ms: number; isOk: boolean; reason?: string }> }>
  try {
    const res = await fetch(`${adminUrl}/esi`)
    pages = ((await res.json()) as { pages: typeof pages }).pages
  } catch (err) {
    return page('What was cached', `<p>Could not read ${escapeHtml(adminUrl)}/esi: ${escapeHtml(String(err))}</p>`)
  }
  const word = (status: string) => (/; hit/.test(status) ? '<b>hit</b>' : /stored/.test(status) ? 'miss, stored' : /fwd=/.test(status) ? 'not cached' : '')
  const rows = pages.slice(0, 10).map((p) => `<h3>${escapeHtml(p.url)} <small>${new Date(p.at).toISOString().slice(11, 23)} · ${word(p.cacheStatus)} · ${escapeHtml(p.state)}</small></h3>
<p><code>${escapeHtml(p.cacheStatus)}</code></p>
<table><tr><th>fragment</th><th>served</th><th>ms</th><th>Cache-Status</th></tr>
${p.fragments.map((f) => `<tr><td>${escapeHtml(f.url)}</td><td>${f.isOk ? word(f.cacheStatus) : `failed: ${escapeHtml(f.reason ?? '')}`}</td><td>${f.ms}</td><td><code>${escapeHtml(f.cacheStatus)}</code></td></tr>`).join('\n')}</table>`)
  return page('What was cached', `<p>The last pages Lacquer assembled (newest first), from the admin port's <code>GET /esi</code>.
Open a product page in another tab, log in, add to the cart, and reload this one.</p>${rows.join('\n') || '<p>No ESI page yet: open <a href="/">the shop</a>.</p>'}`)
}

type Send = (status: number, headers: Record<string, string | string[]>, body: string) => void

/** The single-case pages of the first demo. */
function legacy(req: http.IncomingMessage, url: URL, session: string | undefined, send: Send): void {
  switch (url.pathname) {
    case '/cases':
      return send(200, { 'cache-control': 'public, max-age=60' }, page('Caching cases', `
<p>Each page shows one caching case. Fetch them twice through Lacquer and compare:</p>
<ul>
<li><a href="/cached">/cached</a>: cacheable for 30 s (<code>Cache-Control: public, max-age=30</code>): the second request is a hit.</li>
<li><a href="/login">/login</a>: sets a cookie (<code>Set-Cookie</code>): never stored, never shared.</li>
<li><a href="/api/me">/api/me</a>: a private per-user JSON answer (<code>Cache-Control: private</code>): always passed.</li>
<li><a href="/slow">/slow</a>: takes 2 s to render, cacheable for 60 s: only the first request waits, and concurrent first requests make one origin request.</li>
<li><a href="/vary">/vary</a>: changes with <code>Accept-Language</code> (<code>Vary: Accept-Language</code>): one stored copy per language.</li>
</ul>`))
    case '/cached':
      return send(200, { 'cache-control': 'public, max-age=30', 'last-modified': new Date(Date.now() - 60_000).toUTCString() },
        page('A cached page', '<p>This page is stored for 30 seconds. Reload it: the timestamp below stays the same until it expires.</p>'))
    case '/api/me': {
      const body = JSON.stringify(session ? { user: session.split('-')[0], session } : { user: null })
      return send(200, { 'content-type': 'application/json', 'cache-control': 'private, no-store' }, body)
    }
    case '/slow':
      setTimeout(() => send(200, { 'cache-control': 'public, max-age=60' }, page('A slow page', '<p>The origin took 2 seconds to render this.</p>')), 2000)
      return
    case '/vary': {
      const lang = (req.headers['accept-language'] ?? 'en').slice(0, 2).toLowerCase()
      const greeting = GREETINGS[lang] ?? GREETINGS.en
      return send(200, { 'cache-control': 'public, max-age=60', vary: 'Accept-Language', 'content-language': GREETINGS[lang] ? lang : 'en' },
        page('A page that varies', `<p>${greeting}! Send another <code>Accept-Language</code> to get (and store) another variant.</p>`))
    }
    default:
      return send(404, { 'cache-control': 'public, max-age=10' }, page('Not found', '<p>No such page.</p>'))
  }
}
