/**
 * @module policy/types
 * The policy API: hooks named after the states they decide for, each returning an action
 * from its own union type (an illegal action is a compile error). Hooks see read-only views
 * of messages; they never touch stores, sockets or metrics (STYLE.md, principle 2).
 */
import type { CacheControl } from '../http-cache/cache-control.js'
import type { ReadonlyHeaderList } from '../http-cache/header-list.js'
import type { CacheStatusDetail } from '../observe/cache-status.js'

export interface RequestView {
  readonly method: string
  /** path and query as received */
  readonly path: string
  readonly host: string
  /** the scheme the client used, as told by X-Forwarded-Proto (http when absent or invalid) */
  readonly scheme: 'http' | 'https'
  readonly headers: ReadonlyHeaderList
  readonly clientAddress: string
}

export interface ResponseView {
  readonly status: number
  readonly headers: ReadonlyHeaderList
  /** effective caching directives (CDN-Cache-Control when valid, else Cache-Control) */
  readonly cc: Readonly<CacheControl>
  readonly isTargeted: boolean
  readonly request: RequestView
}

/** recv: what to do with a new client request. */
export type RecvAction =
  /** look it up; `cookie` replaces the Cookie field for lookup and fetch (null removes it) */
  | { action: 'hash'; cookie?: string | null }
  | { action: 'pass'; detail: CacheStatusDetail }
  | { action: 'synth'; status: number; reason: string }

/** backendResponse: whether a fetched response may be stored and shared. */
export type BackendResponseAction =
  | { action: 'store' }
  /** not stored; `isShareable` says whether coalesced waiters may still receive it */
  | { action: 'dontStore'; detail: CacheStatusDetail; isShareable: boolean }

/** A policy: every hook optional; `undefined` falls through to the next layer. */
export interface Policy {
  recv?(req: RequestView): RecvAction | undefined
  backendResponse?(res: ResponseView): BackendResponseAction | undefined
}

/** A policy after composition over the built-in one: every hook answers. */
export interface CompiledPolicy {
  recv(req: RequestView): RecvAction
  backendResponse(res: ResponseView): BackendResponseAction
}

/** A built-in rule: a named, reusable piece of a hook. */
export interface Rule<In, Out> {
  readonly name: string
  /** the RFC section or reason behind it */
  readonly see: string
  decide(input: In): Out | undefined
}
