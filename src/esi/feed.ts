/**
 * @module esi/feed
 * The parsed nodes of an ESI response on its way from the origin, shared by every client
 * delivering it (the fetch's own client and coalesced waiters): the fetch parses the body once,
 * as it streams (esi/fetch-body), and each reader is replayed the top-level nodes completed so
 * far, then gets the rest as they complete. The raw body is not kept for ESI responses.
 */
import type { LacquerError } from '../errors.js'
import type { EsiNode } from './parser.js'

export interface EsiFeedListener {
  onNodes(nodes: EsiNode[]): void
  onEnd(): void
  onError(err: LacquerError): void
}

export class EsiFeed {
  state: 'open' | 'done' | 'failed' = 'open'
  error?: LacquerError
  private readonly batches: EsiNode[][] = []
  private readonly listeners = new Set<EsiFeedListener>()

  push(nodes: EsiNode[]): void {
    if (nodes.length === 0 || this.state !== 'open') return
    this.batches.push(nodes)
    for (const listener of this.listeners) listener.onNodes(nodes)
  }

  end(): void {
    if (this.state !== 'open') return
    this.state = 'done'
    for (const listener of this.listeners) listener.onEnd()
    this.listeners.clear()
  }

  fail(err: LacquerError): void {
    if (this.state !== 'open') return
    this.state = 'failed'
    this.error = err
    for (const listener of this.listeners) listener.onError(err)
    this.listeners.clear()
  }

  /** Replays what was parsed so far, then streams the rest; returns the unsubscribe function. */
  subscribe(listener: EsiFeedListener): () => void {
    for (const batch of this.batches) listener.onNodes(batch)
    if (this.state === 'done') listener.onEnd()
    else if (this.state === 'failed') listener.onError(this.error!)
    else this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** The batches as an async iterable (ends with the feed, throws its error). */
  async *batchesOf(): AsyncGenerator<EsiNode[], void, undefined> {
    const queue: EsiNode[][] = []
    let isDone = false
    let error: LacquerError | undefined
    let wake: (() => void) | undefined
    const unsubscribe = this.subscribe({
      onNodes: (nodes) => { queue.push(nodes); wake?.() },
      onEnd: () => { isDone = true; wake?.() },
      onError: (err) => { error = err; wake?.() },
    })
    try {
      for (;;) {
        if (queue.length) { yield queue.shift()!; continue }
        if (error) throw error
        if (isDone) return
        await new Promise<void>((resolve) => { wake = resolve })
        wake = undefined
      }
    } finally {
      unsubscribe()
    }
  }
}
