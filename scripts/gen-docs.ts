/**
 * Generates the parts of docs/ that come from the code's catalogs: the state diagrams
 * (docs/architecture.md: client, fetch and ESI delivery), the error codes (docs/errors.md), the Cache-Status detail
 * tokens (docs/cache-status.md), the metric catalog (docs/metrics.md) and the ESI warning
 * codes (docs/esi.md). `npm run docs:gen` rewrites them; test/docs/docs-sync.test.ts fails
 * when a committed doc differs from what this renders.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ERRORS } from '../src/errors.js'
import { ESI_WARNINGS } from '../src/esi/warnings.js'
import { ESI_DELIVERY_EXITS, ESI_DELIVERY_STATES } from '../src/esi/deliver.js'
import { FETCH_EXITS, FETCH_STATES } from '../src/fetch/fetch-task.js'
import { STEPS } from '../src/fsm/run.js'
import { STATES } from '../src/fsm/steps.js'
import { CACHE_STATUS_DETAILS } from '../src/observe/cache-status.js'
import { LATENCY_BUCKETS, METRICS, type MetricSpec } from '../src/observe/metrics.js'

export function renderClientDiagram(): string {
  const lines = ['```mermaid', 'stateDiagram-v2', '  [*] --> recv']
  for (const state of STATES) {
    for (const exit of STEPS[state].exits) lines.push(`  ${state} --> ${exit === 'done' ? '[*]' : exit}`)
  }
  lines.push('  note right of recv: any state may fail into synth (500)', '```')
  return lines.join('\n')
}

export function renderFetchDiagram(): string {
  const lines = ['```mermaid', 'stateDiagram-v2', '  [*] --> prepare']
  for (const state of FETCH_STATES) {
    for (const exit of FETCH_EXITS[state]) lines.push(`  ${state} --> ${exit === 'done' ? '[*]' : exit}`)
  }
  lines.push('```')
  return lines.join('\n')
}

export function renderEsiDeliveryDiagram(): string {
  const lines = ['```mermaid', 'stateDiagram-v2', '  [*] --> plan']
  for (const state of ESI_DELIVERY_STATES) {
    for (const exit of ESI_DELIVERY_EXITS[state]) lines.push(`  ${state} --> ${exit === 'done' ? '[*]' : exit}`)
  }
  lines.push('```')
  return lines.join('\n')
}

export function renderErrorTable(): string {
  const rows = Object.entries(ERRORS).map(([code, e]) => `| \`${code}\` | ${e.statusCode} | ${e.message} |`)
  return ['| code | HTTP status | meaning |', '| --- | --- | --- |', ...rows].join('\n')
}

export function renderCacheStatusTable(): string {
  const rows = Object.entries(CACHE_STATUS_DETAILS).map(([token, text]) => `| \`${token}\` | ${text} |`)
  return ['| detail | meaning |', '| --- | --- |', ...rows].join('\n')
}

export function renderMetricTable(): string {
  const rows = (Object.entries(METRICS) as Array<[string, MetricSpec]>).map(([name, m]) =>
    `| \`${name}\` | ${m.type} | ${m.unit ?? ''} | ${m.labels.map((l) => `\`${l}\``).join(', ')} | ${m.help} |`)
  return [
    '| name | type | unit | labels | help |', '| --- | --- | --- | --- | --- |', ...rows, '',
    `Histogram buckets (seconds): ${LATENCY_BUCKETS.join(', ')}.`,
  ].join('\n')
}

export function renderEsiWarningTable(): string {
  const rows = Object.entries(ESI_WARNINGS).map(([code, text]) => `| \`${code}\` | ${text} |`)
  return ['| warning | meaning |', '| --- | --- |', ...rows].join('\n')
}

export const GENERATED_BLOCKS: Record<string, { file: string; render: () => string }> = {
  'client-states': { file: 'docs/architecture.md', render: renderClientDiagram },
  'fetch-states': { file: 'docs/architecture.md', render: renderFetchDiagram },
  'esi-delivery-states': { file: 'docs/architecture.md', render: renderEsiDeliveryDiagram },
  'error-codes': { file: 'docs/errors.md', render: renderErrorTable },
  'cache-status-details': { file: 'docs/cache-status.md', render: renderCacheStatusTable },
  'metrics': { file: 'docs/metrics.md', render: renderMetricTable },
  'esi-warnings': { file: 'docs/esi.md', render: renderEsiWarningTable },
}

/** Replaces the text between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`. */
export function fillBlock(doc: string, name: string, content: string): string {
  const start = `<!-- generated:${name} -->`
  const end = `<!-- /generated:${name} -->`
  const from = doc.indexOf(start)
  const to = doc.indexOf(end)
  if (from < 0 || to < from) throw new Error(`missing markers ${start} … ${end}`)
  return `${doc.slice(0, from + start.length)}\n${content}\n${doc.slice(to)}`
}

export function renderDoc(file: string, current: string): string {
  let doc = current
  for (const [name, block] of Object.entries(GENERATED_BLOCKS)) if (block.file === file) doc = fillBlock(doc, name, block.render())
  return doc
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const files = new Set(Object.values(GENERATED_BLOCKS).map((b) => b.file))
  for (const file of files) {
    const current = readFileSync(file, 'utf8')
    const next = renderDoc(file, current)
    if (next !== current) { writeFileSync(file, next); console.log(`updated ${file}`) }
  }
}
