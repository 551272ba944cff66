/**
 * site: a real static site (Debian's git-doc HTML manual, ~220 linked pages) served by Debian's
 * nginx, mirrored with wget --mirror once directly and twice through Lacquer.
 *
 * - the trees mirrored through Lacquer are byte-identical to the direct mirror;
 * - the first crawl through Lacquer costs nginx exactly as many requests as the direct crawl;
 * - the second crawl is answered entirely from the store: nginx's access log gains no line and
 *   every response wget saw carries Cache-Status hit;
 * - a timestamped re-crawl into an existing tree (wget -N sends If-Modified-Since) gets a 304
 *   from the store and nginx again sees nothing. (wget 1.21 does not recurse from a 304 start
 *   page, directly or through a proxy, so each full crawl uses a fresh directory.)
 *
 * Needs: apt-get install -y nginx wget git-doc. If any is missing the test fails and says so.
 *
 * nginx adds `Cache-Control: public, max-age=3600` with `always`, so its 404s (wget asks for
 * /robots.txt, and git.html links to git-p4.html, which is in the git-p4 package) are cacheable
 * too; without `always` a 404 has no validator and no explicit lifetime, and a cache must forward
 * it every time.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import { join, relative, sep } from 'node:path'
import { after, before, test } from 'node:test'
import { cacheStatus, isHit, request, startProxy, type TestProxy } from '../helpers/proxy.js'

const APT_LINE = 'apt-get install -y nginx wget git-doc'
const DOC_ROOT = '/usr/share/doc/git-doc'
const START_PAGE = '/index.html' // a symlink to git.html, the manual's front page
const NGINX_CANDIDATES = ['/usr/sbin/nginx', '/usr/bin/nginx']

let tmp = ''
let nginx: ChildProcess | undefined
let nginxStderr = ''
let originUrl = ''
let accessLog = ''
let proxy: TestProxy | undefined

/** Everything the crawls measured, filled in by before() so each test asserts one thing. */
interface Crawl {
  dir: string
  exitCode: number
  /** nginx access-log lines this crawl added */
  originRequests: number
  log: string
  ms: number
}
let direct: Crawl
let viaProxy1: Crawl
let viaProxy2: Crawl
let recrawl: Crawl

function findExecutable(candidates: string[], name: string): string | undefined {
  for (const c of candidates) if (existsSync(c)) return c
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(join(dir, name))) return join(dir, name)
  return undefined
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

function countLines(path: string): number {
  if (!existsSync(path)) return 0
  const text = readFileSync(path, 'utf8')
  return text === '' ? 0 : text.split('\n').filter((l) => l !== '').length
}

function nginxConfig(dir: string, port: number): string {
  return `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  types {
    text/html html htm;
    text/css css;
    text/plain txt;
    application/x-sh sh;
    application/gzip gz;
  }
  default_type application/octet-stream;
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${DOC_ROOT};
    add_header Cache-Control "public, max-age=3600" always;
  }
}
`
}

async function waitUntilAnswering(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000
  let lastError = ''
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`nginx exited (${child.exitCode ?? child.signalCode}) before answering: ${nginxStderr.trim()}`)
    }
    try {
      const res = await request(url)
      if (res.status === 200) return
      lastError = `status ${res.status}`
    } catch (err) {
      lastError = (err as Error).message
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`nginx did not answer ${url} within 10 s (${lastError}): ${nginxStderr.trim()}`)
}

/** wget --mirror of baseUrl+START_PAGE into dir; async, because Lacquer runs in this process. */
function mirror(baseUrl: string, dir: string): Promise<Omit<Crawl, 'originRequests'>> {
  const logFile = `${dir}.wget.log`
  const args = ['--mirror', '--no-parent', '-nH', '-S', '-o', logFile, '-P', dir, `${baseUrl}${START_PAGE}`]
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn('wget', args, { stdio: 'ignore' })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      const ms = performance.now() - started
      if (code === null) return reject(new Error(`wget killed by ${signal}`))
      resolve({ dir, exitCode: code, log: existsSync(logFile) ? readFileSync(logFile, 'utf8') : '', ms })
    })
  })
}

async function crawl(baseUrl: string, dir: string): Promise<Crawl> {
  const before = countLines(accessLog)
  const result = await mirror(baseUrl, dir)
  // nginx writes an access-log line when it finishes a response; wget has read every response
  await new Promise((r) => setTimeout(r, 100))
  return { ...result, originRequests: countLines(accessLog) - before }
}

/** relative path → sha256 of every regular file under dir */
function treeHashes(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name)
      if (statSync(path).isDirectory()) walk(path)
      else out.set(relative(dir, path).split(sep).join('/'), createHash('sha256').update(readFileSync(path)).digest('hex'))
    }
  }
  if (existsSync(dir)) walk(dir)
  return out
}

/** The status lines and Cache-Status values wget -S printed, one entry per response. */
function wgetResponses(log: string): Array<{ status: number; cacheStatus: string }> {
  const out: Array<{ status: number; cacheStatus: string }> = []
  for (const line of log.split('\n')) {
    const statusLine = /^\s+HTTP\/1\.[01] (\d{3})/.exec(line)
    if (statusLine) { out.push({ status: Number(statusLine[1]), cacheStatus: '' }); continue }
    const cs = /^\s+cache-status:\s*(.*)$/i.exec(line)
    if (cs && out.length) out[out.length - 1]!.cacheStatus = cs[1]!.trim()
  }
  return out
}

before(async () => {
  const nginxBin = findExecutable(NGINX_CANDIDATES, 'nginx')
  const wgetBin = findExecutable([], 'wget')
  const missing = [
    nginxBin ? '' : 'nginx (no /usr/sbin/nginx)',
    wgetBin ? '' : 'wget (not on PATH)',
    existsSync(join(DOC_ROOT, 'git.html')) ? '' : `git-doc (no ${DOC_ROOT}/git.html)`,
  ].filter(Boolean)
  if (missing.length) throw new Error(`real-site test needs ${missing.join(', ')}: run \`${APT_LINE}\``)

  tmp = mkdtempSync(join(os.tmpdir(), 'lacquer-site-'))
  const ngDir = join(tmp, 'nginx')
  mkdirSync(ngDir)
  accessLog = join(ngDir, 'access.log')
  const port = await freePort()
  writeFileSync(join(ngDir, 'nginx.conf'), nginxConfig(ngDir, port))
  nginx = spawn(nginxBin!, ['-p', ngDir, '-e', join(ngDir, 'error.log'), '-c', join(ngDir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] })
  nginx.stderr!.on('data', (d: Buffer) => { nginxStderr += d.toString() })
  nginx.on('error', (err) => { nginxStderr += String(err) })
  originUrl = `http://127.0.0.1:${port}`
  await waitUntilAnswering(`${originUrl}${START_PAGE}`, nginx)

  proxy = await startProxy({ origin: originUrl, store: { size: '256mb' } })

  direct = await crawl(originUrl, join(tmp, 'direct'))
  viaProxy1 = await crawl(proxy.url, join(tmp, 'proxy-1'))
  viaProxy2 = await crawl(proxy.url, join(tmp, 'proxy-2'))
  recrawl = await crawl(proxy.url, join(tmp, 'proxy-1')) // into crawl 1's tree: If-Modified-Since
  const secs = (c: Crawl) => (c.ms / 1000).toFixed(2)
  console.log(`# real-site: ${treeHashes(direct.dir).size} files; origin requests direct=${direct.originRequests} ` +
    `proxy-1=${viaProxy1.originRequests} proxy-2=${viaProxy2.originRequests} recrawl=${recrawl.originRequests}; ` +
    `time direct=${secs(direct)}s proxy-1=${secs(viaProxy1)}s proxy-2=${secs(viaProxy2)}s`)
})

after(async () => {
  await proxy?.close()
  if (nginx?.pid !== undefined && nginx.exitCode === null && nginx.signalCode === null) {
    const exited = new Promise((r) => nginx!.once('exit', r))
    process.kill(nginx.pid, 'SIGQUIT')
    const timer = setTimeout(() => { if (nginx!.exitCode === null) process.kill(nginx!.pid!, 'SIGKILL') }, 3000)
    await exited
    clearTimeout(timer)
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

test('the direct crawl mirrors at least 200 linked HTML pages', () => {
  const html = [...treeHashes(direct.dir).keys()].filter((p) => p.endsWith('.html'))
  assert.ok(html.length >= 200, `only ${html.length} HTML files mirrored from ${originUrl}; wget exit ${direct.exitCode}\n${direct.log.slice(-2000)}`)
  // 8: some link answered 404 (robots.txt, git-p4.html); anything else is a crawl failure
  assert.ok([0, 8].includes(direct.exitCode), `wget exit ${direct.exitCode}\n${direct.log.slice(-2000)}`)
})

for (const [name, crawlOf] of [['first', () => viaProxy1], ['second', () => viaProxy2]] as const) {
  test(`the ${name} crawl through Lacquer is byte-identical to the direct mirror`, () => {
    const c = crawlOf()
    assert.equal(c.exitCode, direct.exitCode, `wget exit through Lacquer ${c.exitCode}, direct ${direct.exitCode}\n${c.log.slice(-2000)}`)
    const want = treeHashes(direct.dir)
    const got = treeHashes(c.dir)
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), 'the file lists differ')
    const differing = [...want].filter(([path, hash]) => got.get(path) !== hash).map(([path]) => {
      const a = statSync(join(direct.dir, path)).size
      const b = statSync(join(c.dir, path)).size
      return `${path} (direct ${a} bytes, through Lacquer ${b} bytes)`
    })
    assert.deepEqual(differing, [], `files differ: ${differing.slice(0, 10).join('; ')}`)
  })
}

test('the first crawl through Lacquer costs nginx exactly what the direct crawl did', () => {
  assert.ok(direct.originRequests >= 200, `direct crawl: ${direct.originRequests} access-log lines`)
  assert.equal(viaProxy1.originRequests, direct.originRequests)
})

test('the second crawl is answered from the store: no request reaches nginx, every response is a hit', () => {
  assert.equal(viaProxy2.originRequests, 0, `nginx saw ${viaProxy2.originRequests} requests during the second crawl`)
  const responses = wgetResponses(viaProxy2.log)
  assert.ok(responses.length >= 200, `wget -S printed only ${responses.length} responses`)
  const notHits = responses.filter((r) => !/; hit(;|$)/.test(r.cacheStatus))
  assert.deepEqual(notHits, [], 'responses without Cache-Status hit in the second crawl')
})

test('a sample of pages fetched afterwards are hits with the same bytes as on disk', async () => {
  const pages = [...treeHashes(direct.dir).keys()].filter((p) => p.endsWith('.html')).sort()
  const sample = pages.filter((_, i) => i % 10 === 0)
  const before = countLines(accessLog)
  for (const page of sample) {
    const res = await request(`${proxy!.url}/${page}`)
    assert.equal(res.status, 200, page)
    assert.ok(isHit(res), `${page}: ${cacheStatus(res)}`)
    assert.equal(res.body, readFileSync(join(direct.dir, page), 'utf8'), `${page}: body differs`)
  }
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(countLines(accessLog) - before, 0)
})

test('a timestamped re-crawl (If-Modified-Since) gets a 304 from the store and nginx sees nothing', () => {
  assert.equal(recrawl.originRequests, 0)
  const first = wgetResponses(recrawl.log)[0]
  assert.ok(first, `wget printed no response\n${recrawl.log}`)
  assert.equal(first.status, 304)
  assert.match(first.cacheStatus, /; hit(;|$)/)
  // the tree is untouched
  const want = treeHashes(direct.dir)
  const got = treeHashes(recrawl.dir)
  assert.deepEqual([...got].sort(), [...want].sort())
})
