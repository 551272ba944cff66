/**
 * @module demo/site
 * The built-in sample site behind `lacquer demo`: real pages that show each caching case.
 */
import http from 'node:http'

const GREETINGS: Record<string, string> = { en: 'Hello', fr: 'Bonjour', de: 'Hallo', es: 'Hola' }

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title} · Lacquer demo</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .25rem}</style>
</head><body><nav><a href="/">Home</a> · <a href="/cached">Cached</a> · <a href="/slow">Slow</a> · <a href="/vary">Vary</a> · <a href="/login">Log in</a> · <a href="/api/me">/api/me</a></nav>
<h1>${title}</h1>
${body}
<p><small>Rendered by the origin at ${new Date().toISOString()}. Look at the <code>Cache-Status</code> and <code>Age</code> response headers.</small></p>
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

export function createDemoSite(stats: DemoSiteStats = { requests: 0 }): http.Server {
  return http.createServer((req, res) => {
    stats.requests++
    const url = new URL(req.url ?? '/', 'http://demo.local')
    const send = (status: number, headers: Record<string, string>, body: string) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...headers })
      res.end(req.method === 'HEAD' ? undefined : body)
    }
    switch (url.pathname) {
      case '/':
        return send(200, { 'cache-control': 'public, max-age=60' }, page('Lacquer demo', `
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
      case '/login': {
        const user = url.searchParams.get('user') ?? 'alice'
        return send(200, { 'set-cookie': `session=${encodeURIComponent(user)}-${Math.random().toString(36).slice(2)}; Path=/; HttpOnly`, 'cache-control': 'no-store' },
          page('Logged in', `<p>You are now logged in as <b>${user.replace(/[^a-z0-9]/gi, '')}</b> (a <code>session</code> cookie was set). Requests carrying it pass Lacquer's cache.</p>`))
      }
      case '/api/me': {
        const session = parseCookies(req.headers.cookie).session
        const body = JSON.stringify(session ? { user: session.split('-')[0], session } : { user: null })
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'private, no-store', 'content-length': String(Buffer.byteLength(body)) })
        return res.end(req.method === 'HEAD' ? undefined : body)
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
  })
}
