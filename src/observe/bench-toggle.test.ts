import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import type { ProxyContext } from '../context.js'
import { AccessLog } from './access-log.js'
import { startObserveToggle } from './bench-toggle.js'
import { Observer } from './observer.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The parts of a context the switch uses: the observer and the hit counter. */
function fakeContext(): ProxyContext {
  const observer = new Observer()
  observer.accessLog = new AccessLog({ format: 'combined', output: new PassThrough() })
  return { observer, counters: { hits: 0 } } as unknown as ProxyContext
}

test('the benchmark switch flips what it is told to, reports each phase on SIGUSR2, and restores everything when stopped', async () => {
  for (const [parts, flipsCounting, flipsLog] of [['both', true, true], ['metrics', true, false], ['log', false, true], ['none', false, false]] as const) {
    const ctx = fakeContext()
    const log = ctx.observer.accessLog
    const stop = startObserveToggle(ctx, 30, parts)
    await sleep(45) // one switch: the "off" phase
    assert.equal(ctx.observer.isCounting, !flipsCounting, parts)
    assert.equal(ctx.observer.accessLog, flipsLog ? undefined : log, parts)
    stop()
    assert.equal(ctx.observer.isCounting, true)
    assert.equal(ctx.observer.accessLog, log)
  }
})

test('the report sums hits and CPU per phase, then starts again from zero', async () => {
  const ctx = fakeContext()
  const lines: string[] = []
  const write = process.stderr.write
  process.stderr.write = ((chunk: string) => { lines.push(String(chunk)); return true }) as typeof process.stderr.write
  const stop = startObserveToggle(ctx, 20, 'both')
  try {
    for (let i = 0; i < 6; i++) { ctx.counters.hits += 10; await sleep(10) }
    process.emit('SIGUSR2' as never)
    process.emit('SIGUSR2' as never)
  } finally {
    stop()
    process.stderr.write = write
  }
  const [first, second] = lines.map((l) => JSON.parse(l).observeToggle)
  assert.equal(first.on.hits + first.off.hits, 60)
  assert.ok(first.on.hits > 0 && first.off.hits > 0, JSON.stringify(first))
  assert.ok(first.on.ms > 0 && first.off.ms > 0 && first.on.cpuUs >= 0)
  assert.equal(second.on.hits + second.off.hits, 0, 'started again from zero')
  // each phase on its own, in order, adding up to the sums
  assert.deepEqual(first.phases.map((p: { phase: string }) => p.phase).slice(0, 2), ['on', 'off'])
  assert.equal(first.phases.reduce((n: number, p: { hits: number }) => n + p.hits, 0), 60)
  assert.equal(first.phases.filter((p: { phase: string }) => p.phase === 'off').reduce((n: number, p: { hits: number }) => n + p.hits, 0), first.off.hits)
  assert.deepEqual(second.phases.map((p: { hits: number }) => p.hits), [0])
})
