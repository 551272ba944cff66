import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TooManyBansError } from '../invalidate/invalidator.js'
import { asLocalError } from './cluster-bus.js'
import { Channel, ChannelClosedError, RemoteError } from './ipc.js'

/** Two ends joined back to back, messages passed through JSON as the IPC channel does. */
function pair(handlersA: Record<string, (args: any) => unknown>, handlersB: Record<string, (args: any) => unknown>, isBOpen = true) {
  const a: Channel = new Channel((m) => setImmediate(() => b.receive(JSON.parse(JSON.stringify(m)))), handlersA)
  const b: Channel = new Channel((m) => setImmediate(() => a.receive(JSON.parse(JSON.stringify(m)))), handlersB, isBOpen)
  return { a, b }
}

test('call: the other side\'s answer, or its error by class name, message and code', async () => {
  const { a } = pair({}, {
    sum: ({ x, y }: { x: number; y: number }) => x + y,
    later: async () => 'done',
    full: () => { throw new TooManyBansError('10 bans are waiting') },
    bad: () => { throw Object.assign(new Error('rules[0].ttl: "10x"'), { code: 'ERR_CONFIG_INVALID' }) },
  })
  assert.equal(await a.call('sum', { x: 2, y: 3 }), 5)
  assert.equal(await a.call('later'), 'done')
  const full = await a.call('full').catch((err: Error) => err)
  assert.ok(full instanceof RemoteError && full.remoteName === 'TooManyBansError')
  assert.ok(asLocalError(full) instanceof TooManyBansError, 'a full ban list stays a 503 on the side that asked')
  const bad = (await a.call('bad').catch((err: RemoteError) => err)) as RemoteError
  assert.equal(bad.code, 'ERR_CONFIG_INVALID')
  await assert.rejects(a.call('nope'), /unknown call nope/)
})

test('a closed channel rejects the calls waiting; a slow answer is cut by the timeout', async () => {
  const { a } = pair({}, { never: () => new Promise(() => {}) })
  // the channel's timer does not keep a process alive; this test must wait for it
  const keepAlive = setTimeout(() => {}, 1000)
  await assert.rejects(a.call('never', undefined, 50), /no answer to never within 50 ms/)
  clearTimeout(keepAlive)
  const waiting = a.call('never')
  a.close('the worker exited')
  await assert.rejects(waiting, ChannelClosedError)
  await assert.rejects(a.call('never'), ChannelClosedError)
})

test('calls made before open() wait, in order', async () => {
  const seen: number[] = []
  const { b } = pair({ note: (n: number) => { seen.push(n); return n } }, {}, false)
  const answers = Promise.all([b.call('note', 1), b.call('note', 2)])
  await new Promise((r) => setTimeout(r, 20))
  assert.deepEqual(seen, [])
  b.open()
  assert.deepEqual(await answers, [1, 2])
  assert.deepEqual(seen, [1, 2])
})

test('messages that are not ours are left alone', () => {
  const { a } = pair({}, {})
  assert.equal(a.receive({ cmd: 'NODE_CLUSTER' }), false)
  assert.equal(a.receive('hello'), false)
  assert.equal(a.receive(null), false)
})
