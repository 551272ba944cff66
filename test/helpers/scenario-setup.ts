/**
 * The setup the c0xx scenario files share: one test origin and one Lacquer in front of it,
 * started before the file's tests and closed after them, and a GET through that Lacquer.
 */
import { after, before } from 'node:test'
import type { ProxyOptions, Policy } from '../../src/index.js'
import { startOrigin, type TestOrigin } from './origin.js'
import { request, startProxy, type RequestOptions, type TestProxy, type TestResponse } from './proxy.js'

export interface OriginAndProxy {
  /** the test origin (available once the `before` hook has run) */
  readonly origin: TestOrigin
  /** the Lacquer in front of it (available once the `before` hook has run) */
  readonly proxy: TestProxy
  /** A GET of `path` through the proxy, with optional request header fields. */
  get(path: string, headers?: RequestOptions['headers']): Promise<TestResponse>
}

/** A GET of `path` through `proxy` (any started Lacquer), with optional request header fields. */
export function getThrough(proxy: { url: string }, path: string, headers?: RequestOptions['headers']): Promise<TestResponse> {
  return request(`${proxy.url}${path}`, { headers })
}

/**
 * Registers `before`/`after` hooks in the calling scope (call it at the top of a test file)
 * that start a test origin and a Lacquer in front of it, and close both afterwards.
 * `options` are passed to the proxy (its `origin` is always the test origin).
 */
export function useOriginAndProxy(options: Omit<Partial<ProxyOptions>, 'origin'> = {}, policy?: Policy): OriginAndProxy {
  let origin: TestOrigin | undefined
  let proxy: TestProxy | undefined
  before(async () => {
    origin = await startOrigin()
    proxy = await startProxy({ ...options, origin: origin.url }, policy)
  })
  after(async () => { await proxy?.close(); await origin?.close() })
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the ${what} is not started yet: use it inside a test or hook`)
    return value
  }
  return {
    get origin() { return started(origin, 'test origin') },
    get proxy() { return started(proxy, 'proxy') },
    get: (path, headers) => getThrough(started(proxy, 'proxy'), path, headers),
  }
}
