/**
 * @module cluster/ipc
 * Calls between the primary and a worker of `lacquer serve --workers N`, over the IPC channel
 * node:cluster opens for each worker: `call(op, args)` resolves with the other side's answer
 * (or rejects with its error), `receive(message)` takes what arrives. The same class serves
 * both ends. Messages are plain JSON (`{ lacquer: 'call' | 'reply', … }`), so other messages
 * on the channel (node's own, a user's) pass by untouched.
 */

export type Handler = (args: any) => unknown

interface Call { lacquer: 'call'; id: number; op: string; args?: unknown }
interface Reply { lacquer: 'reply'; id: number; value?: unknown; error?: { name: string; message: string; code?: string } }

/** An error thrown on the other side of the channel: its class name, message and code (a LacquerError's). */
export class RemoteError extends Error {
  constructor(readonly remoteName: string, message: string, readonly code?: string) {
    super(message)
  }
}

/** The other side went away (exited, or the channel closed) before it answered. */
export class ChannelClosedError extends Error {}

export class Channel {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (value: any) => void; reject: (err: Error) => void; timer?: NodeJS.Timeout }>()
  /** calls made before the other side is listening (a worker still starting) */
  private queued: Call[] | undefined
  private isClosed = false

  /**
   * `send` writes one message; `handlers` answer the other side's calls. `isOpen: false` holds
   * calls back until `open()`: a worker's first message says it listens.
   */
  constructor(private readonly send: (message: Call | Reply) => void, private readonly handlers: Record<string, Handler>, isOpen = true) {
    if (!isOpen) this.queued = []
  }

  open(): void {
    const queued = this.queued ?? []
    this.queued = undefined
    for (const call of queued) this.send(call)
  }

  /** Asks the other side; `timeoutMs` bounds the wait (default: none — purges must not be cut short). */
  call<T>(op: string, args?: unknown, timeoutMs?: number): Promise<T> {
    if (this.isClosed) return Promise.reject(new ChannelClosedError(`the channel is closed (${op})`))
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      const entry: { resolve: (value: T) => void; reject: (err: Error) => void; timer?: NodeJS.Timeout } = { resolve, reject }
      if (timeoutMs !== undefined) {
        entry.timer = setTimeout(() => {
          this.pending.delete(id)
          reject(new Error(`no answer to ${op} within ${timeoutMs} ms`))
        }, timeoutMs)
        entry.timer.unref()
      }
      this.pending.set(id, entry)
      const call: Call = { lacquer: 'call', id, op, ...(args === undefined ? {} : { args }) }
      if (this.queued) this.queued.push(call)
      else this.send(call)
    })
  }

  /** Takes one message from the other side; false when it is not ours. */
  receive(message: unknown): boolean {
    const m = message as { lacquer?: unknown; id?: unknown; op?: string; args?: unknown; value?: unknown; error?: Reply['error'] } | null
    if (!m || typeof m !== 'object' || (m.lacquer !== 'call' && m.lacquer !== 'reply') || typeof m.id !== 'number') return false
    if (m.lacquer === 'reply') {
      const entry = this.pending.get(m.id)
      if (!entry) return true // answered after its timeout
      this.pending.delete(m.id)
      clearTimeout(entry.timer)
      if (m.error) entry.reject(new RemoteError(m.error.name, m.error.message, m.error.code))
      else entry.resolve(m.value)
      return true
    }
    const { id, op } = m as Call
    const handler = this.handlers[op]
    const reply = (value: unknown, error?: Error & { code?: unknown }) => {
      if (this.isClosed) return
      if (!error) return this.send({ lacquer: 'reply', id, value })
      // an error passed on from a third process keeps its first name
      const name = error instanceof RemoteError ? error.remoteName : error.constructor.name
      this.send({ lacquer: 'reply', id, error: { name, message: error.message, ...(typeof error.code === 'string' && { code: error.code }) } })
    }
    if (!handler) {
      reply(undefined, new Error(`unknown call ${op}`))
      return true
    }
    Promise.resolve().then(() => handler(m.args)).then((value) => reply(value), (err: Error) => reply(undefined, err))
    return true
  }

  /** Rejects every call still waiting (the other side exited). */
  close(reason: string): void {
    this.isClosed = true
    this.queued = undefined
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer)
      entry.reject(new ChannelClosedError(reason))
      this.pending.delete(id)
    }
  }
}
