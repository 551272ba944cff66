/**
 * @module admin/dashboard-page
 * The live dashboard: one static HTML page (no framework, uPlot for the charts) that opens
 * `/events` (Server-Sent Events) and redraws once a second. The page is built once at start;
 * serving it costs one write.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lacquer — live</title>
<link rel="stylesheet" href="/assets/uPlot.min.css">
<style>
  :root { --bg: #0f1115; --panel: #171a21; --text: #e6e6e6; --muted: #8b93a1; --hit: #3fb950; --stale: #d29922;
          --miss: #f85149; --coalesced: #58a6ff; --pass: #bc8cff; --synth: #8b949e; --purge: #ff7b72; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; align-items: baseline; gap: 1rem; padding: .75rem 1rem; border-bottom: 1px solid #222; }
  header h1 { font-size: 1.1rem; margin: 0; }
  #status { color: var(--muted); }
  #status.live::before { content: "● "; color: var(--hit); }
  #status.down::before { content: "● "; color: var(--miss); }
  .tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: .5rem; padding: 1rem; }
  .tile { background: var(--panel); border-radius: 6px; padding: .6rem .8rem; }
  .tile .label { color: var(--muted); font-size: .8rem; }
  .tile .value { font-size: 1.5rem; font-variant-numeric: tabular-nums; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(28rem, 1fr)); gap: .5rem; padding: 0 1rem; }
  .panel { background: var(--panel); border-radius: 6px; padding: .6rem .8rem; }
  .panel h2 { font-size: .9rem; margin: 0 0 .4rem; color: var(--muted); font-weight: 500; }
  .tables { display: grid; grid-template-columns: repeat(auto-fit, minmax(24rem, 1fr)); gap: .5rem; padding: 1rem; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  td, th { padding: .2rem .4rem; text-align: left; border-bottom: 1px solid #222; }
  td.n, th.n { text-align: right; }
  td.url { max-width: 28rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .u-legend { color: var(--text); }
  .ok { color: var(--hit); } .sick { color: var(--miss); }
</style>
</head>
<body>
<noscript><p style="padding:1rem">This page draws live charts with JavaScript. Without it, read the numbers at <a href="/stats">/stats</a> or <a href="/metrics">/metrics</a>.</p></noscript>
<header><h1>Lacquer</h1><span id="status">connecting…</span><span id="clock" style="margin-left:auto;color:var(--muted)"></span></header>
<section class="tiles">
  <div class="tile"><div class="label">requests / s</div><div class="value" id="rps">–</div></div>
  <div class="tile"><div class="label">hit ratio</div><div class="value" id="hit-ratio">–</div></div>
  <div class="tile"><div class="label">p50 ms</div><div class="value" id="p50">–</div></div>
  <div class="tile"><div class="label">p95 ms</div><div class="value" id="p95">–</div></div>
  <div class="tile"><div class="label">p99 ms</div><div class="value" id="p99">–</div></div>
  <div class="tile"><div class="label">origin req / s</div><div class="value" id="origin-rps">–</div></div>
  <div class="tile"><div class="label">origin errors / s</div><div class="value" id="origin-errors">–</div></div>
  <div class="tile"><div class="label">stored objects</div><div class="value" id="store-objects">–</div></div>
  <div class="tile"><div class="label">store use</div><div class="value" id="store-use">–</div></div>
  <div class="tile"><div class="label">requests since start</div><div class="value" id="total">0</div></div>
</section>
<section class="charts">
  <div class="panel"><h2>requests per second by state</h2><div id="chart-states"></div></div>
  <div class="panel"><h2>latency (ms)</h2><div id="chart-latency"></div></div>
  <div class="panel"><h2>origin requests and errors per second</h2><div id="chart-origin"></div></div>
  <div class="panel"><h2>hit ratio</h2><div id="chart-ratio"></div></div>
</section>
<section class="tables">
  <div class="panel"><h2>most missed URLs (last minute)</h2>
    <table><thead><tr><th>URL</th><th class="n">misses</th></tr></thead><tbody id="top-missed"></tbody></table></div>
  <div class="panel"><h2>slowest requests (last minute)</h2>
    <table><thead><tr><th>URL</th><th>state</th><th class="n">ms</th></tr></thead><tbody id="slowest"></tbody></table></div>
  <div class="panel"><h2>origins</h2>
    <table><thead><tr><th>origin</th><th>health</th></tr></thead><tbody id="origins"></tbody></table></div>
</section>
<script src="/assets/uPlot.iife.min.js"></script>
<script>
const STATES = ['hit', 'stale', 'miss', 'coalesced', 'pass', 'synth', 'purge']
const css = (name) => getComputedStyle(document.documentElement).getPropertyValue('--' + name).trim()
const WINDOW = 120
const data = { t: [], states: STATES.map(() => []), p50: [], p95: [], p99: [], origin: [], errors: [], ratio: [] }
const width = () => Math.max(300, document.querySelector('#chart-states').clientWidth)
const axes = [{ stroke: '#8b93a1', grid: { stroke: '#222' } }, { stroke: '#8b93a1', grid: { stroke: '#222' } }]
const charts = {
  states: new uPlot({ width: width(), height: 200, axes, series: [{}, ...STATES.map((s) => ({ label: s, stroke: css(s), width: 2 }))] },
    [data.t, ...data.states], document.querySelector('#chart-states')),
  latency: new uPlot({ width: width(), height: 200, axes, series: [{}, { label: 'p50', stroke: '#3fb950' }, { label: 'p95', stroke: '#d29922' }, { label: 'p99', stroke: '#f85149' }] },
    [data.t, data.p50, data.p95, data.p99], document.querySelector('#chart-latency')),
  origin: new uPlot({ width: width(), height: 200, axes, series: [{}, { label: 'requests', stroke: '#58a6ff' }, { label: 'errors', stroke: '#f85149' }] },
    [data.t, data.origin, data.errors], document.querySelector('#chart-origin')),
  ratio: new uPlot({ width: width(), height: 200, axes, scales: { y: { range: [0, 1] } }, series: [{}, { label: 'hit ratio', stroke: '#3fb950' }] },
    [data.t, data.ratio], document.querySelector('#chart-ratio')),
}
function push(p) {
  if (data.t.length && p.t <= data.t[data.t.length - 1]) return
  data.t.push(p.t)
  STATES.forEach((s, i) => data.states[i].push(p.requests[s]))
  data.p50.push(p.p50); data.p95.push(p.p95); data.p99.push(p.p99)
  data.origin.push(p.originRequests); data.errors.push(p.originErrors)
  data.ratio.push(p.hitRatio)
  if (data.t.length > WINDOW) for (const k of Object.keys(data)) { if (k === 'states') data.states.forEach((a) => a.shift()); else data[k].shift() }
}
function redraw() {
  charts.states.setData([data.t, ...data.states])
  charts.latency.setData([data.t, data.p50, data.p95, data.p99])
  charts.origin.setData([data.t, data.origin, data.errors])
  charts.ratio.setData([data.t, data.ratio])
}
const fmt = (n) => n >= 1e6 ? (n / 1e6).toFixed(1) + 'M' : n >= 1e4 ? (n / 1e3).toFixed(1) + 'k' : String(Math.round(n * 10) / 10)
const bytes = (n) => n >= 1 << 30 ? (n / (1 << 30)).toFixed(1) + ' GiB' : n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + ' MiB' : (n / 1024).toFixed(1) + ' KiB'
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])
function show(snap) {
  const p = snap.point
  document.querySelector('#rps').textContent = fmt(p.total)
  document.querySelector('#hit-ratio').textContent = p.hitRatio === null ? '–' : (p.hitRatio * 100).toFixed(1) + ' %'
  document.querySelector('#p50').textContent = fmt(p.p50)
  document.querySelector('#p95').textContent = fmt(p.p95)
  document.querySelector('#p99').textContent = fmt(p.p99)
  document.querySelector('#origin-rps').textContent = fmt(p.originRequests)
  document.querySelector('#origin-errors').textContent = fmt(p.originErrors)
  document.querySelector('#store-objects').textContent = fmt(snap.store.objects)
  document.querySelector('#store-use').textContent = bytes(snap.store.bytes) + ' / ' + bytes(snap.store.maxBytes)
  document.querySelector('#total').textContent = fmt(STATES.reduce((n, s) => n + snap.totals[s], 0))
  document.querySelector('#clock').textContent = new Date(p.t * 1000).toLocaleTimeString()
  document.querySelector('#top-missed').innerHTML = snap.topMissed.map((r) => '<tr><td class="url" title="' + esc(r.url) + '">' + esc(r.url) + '</td><td class="n">' + r.misses + '</td></tr>').join('')
  document.querySelector('#slowest').innerHTML = snap.slowest.map((r) => '<tr><td class="url" title="' + esc(r.url) + '">' + esc(r.url) + '</td><td>' + r.state + '</td><td class="n">' + r.ms.toFixed(1) + '</td></tr>').join('')
  document.querySelector('#origins').innerHTML = snap.origins.length
    ? snap.origins.map((o) => '<tr><td>' + esc(o.name) + '</td><td class="' + (o.healthy ? 'ok">healthy' : 'sick">sick') + '</td></tr>').join('')
    : '<tr><td colspan="2">no health probes configured</td></tr>'
  push(p)
  redraw()
}
const events = new EventSource('/events')
const status = document.querySelector('#status')
events.addEventListener('history', (e) => { JSON.parse(e.data).forEach(push); redraw() })
events.addEventListener('tick', (e) => { status.textContent = 'live'; status.className = 'live'; show(JSON.parse(e.data)) })
events.onerror = () => { status.textContent = 'disconnected, retrying'; status.className = 'down' }
addEventListener('resize', () => { for (const c of Object.values(charts)) c.setSize({ width: width(), height: 200 }) })
</script>
</body>
</html>
`
