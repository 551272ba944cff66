/**
 * @module policy/types
 * The policy API (Lacquer's VCL): hooks named after the states they decide for, each
 * returning an action from its own union type, so an illegal action is a compile error.
 * Hooks see read-only views; they never touch stores, sockets or metrics (STYLE.md,
 * principle 2). A hook that returns `undefined` lets the next layer decide: the user's hooks
 * first, then the built-in policy (which applies the config's rules).
 */
import type { CacheControl } from '../http-cache/cache-control.js'
import type { ReadonlyHeaderList } from '../http-cache/header-list.js'
import type { CacheStatusDetail } from '../observe/cache-status.js'
import type { CompiledRule } from './rules.js'

export interface RequestView {
  readonly method: string
  /** path and query, as they will be forwarded (after query normalisation) */
  readonly path: string
  readonly host: string
  /** the scheme the client used, as told by X-Forwarded-Proto (http when absent or invalid) */
  readonly scheme: 'http' | 'https'
  readonly headers: ReadonlyHeaderList
  readonly clientAddress: string
  /** the first config rule matching the request, if any */
  readonly rule?: CompiledRule
  /**
   * set by hash when the key holds one user's credential (a perUser rule and the request
   * carried the cookie or header): the entry is that user's alone
   */
  readonly partition?: string
}

/** What a stored object looks like to `hit`. */
export interface ObjectView {
  readonly status: number
  readonly headers: ReadonlyHeaderList
  /** remaining freshness in ms; negative when stale */
  readonly ttlMs: number
  readonly tags: readonly string[]
}

export interface ResponseView {
  readonly status: number
  readonly headers: ReadonlyHeaderList
  /** effective caching directives (CDN-Cache-Control when valid, else Cache-Control) */
  readonly cc: Readonly<CacheControl>
  readonly isTargeted: boolean
  readonly request: RequestView
}

/** Edits to a header list: `set` replaces every line of a name, `unset` removes them. */
export interface HeaderEdits {
  readonly set?: Readonly<Record<string, string>>
  readonly unset?: readonly string[]
}

type Synth = { action: 'synth'; status: number; reason: string }

/** recv: a new client request. */
export type RecvAction =
  | { action: 'hash'; edits?: HeaderEdits }
  | { action: 'pass'; detail: CacheStatusDetail; edits?: HeaderEdits }
  | Synth

/** hash: extra parts of the cache key (e.g. a keyed hash of a session, a header's value). */
export type HashAction = { action: 'lookup'; keyParts?: readonly string[]; partition?: string }

/** hit: a stored object was found for the request. */
export type HitAction = { action: 'deliver' } | { action: 'miss' } | { action: 'pass'; detail: CacheStatusDetail } | Synth

/** miss: nothing usable stored. */
export type MissAction = { action: 'fetch' } | { action: 'pass'; detail: CacheStatusDetail } | Synth

/** pass: forwarded for this client alone. */
export type PassAction = { action: 'fetch' } | Synth

/** deliver: the response is about to be sent. */
export type DeliverAction = { action: 'deliver'; edits?: HeaderEdits } | Synth

/** backendRequest: the request about to be sent to the origin. */
export type BackendRequestAction = { action: 'fetch'; edits?: HeaderEdits }

/** backendResponse: whether a fetched response may be stored and shared, and for how long. */
export type BackendResponseAction =
  | {
    action: 'store'
    /** replaces the freshness lifetime computed from the headers */
    ttlMs?: number
    /** stale-while-revalidate window (RFC 5861 §3) */
    graceMs?: number
    /** how long a stale object is kept for revalidation and for serving while the origin fails */
    keepMs?: number
    tags?: readonly string[]
    /** fields removed before the response is stored and delivered (e.g. set-cookie on a `cache` rule) */
    unset?: readonly string[]
  }
  /** not stored; `isShareable` says whether coalesced waiters may still receive it */
  | { action: 'dontStore'; detail: CacheStatusDetail; isShareable: boolean }

/** backendError: the origin failed (unreachable, timeout, bad response) or answered 500/502/503/504. */
export type BackendErrorAction = { action: 'serveStale' } | Synth | { action: 'deliverError' }

export interface BackendErrorView {
  /** the error code (ERR_ORIGIN_…), or undefined when the origin answered an error status */
  readonly code?: string
  readonly status?: number
  readonly request: RequestView
  /** a stale object that could stand in, and how long it has been stale (ms) */
  readonly stale?: { readonly staleForMs: number; readonly cc: Readonly<CacheControl> }
}

/** A policy: every hook optional; `undefined` falls through to the next layer. */
export interface Policy {
  recv?(req: RequestView): RecvAction | undefined
  hash?(req: RequestView): HashAction | undefined
  hit?(req: RequestView, object: ObjectView): HitAction | undefined
  miss?(req: RequestView): MissAction | undefined
  pass?(req: RequestView): PassAction | undefined
  deliver?(req: RequestView, res: { readonly status: number; readonly headers: ReadonlyHeaderList }): DeliverAction | undefined
  backendRequest?(req: RequestView): BackendRequestAction | undefined
  backendResponse?(res: ResponseView): BackendResponseAction | undefined
  backendError?(err: BackendErrorView): BackendErrorAction | undefined
}

/** A policy after composition over the built-in one: every hook answers. */
export type CompiledPolicy = { [K in keyof Policy]-?: (...args: Parameters<NonNullable<Policy[K]>>) => NonNullable<ReturnType<NonNullable<Policy[K]>>> }

export const HOOK_NAMES = ['recv', 'hash', 'hit', 'miss', 'pass', 'deliver', 'backendRequest', 'backendResponse', 'backendError'] as const satisfies ReadonlyArray<keyof Policy>

/** A built-in rule: a named, reusable piece of a hook. */
export interface Rule<In, Out> {
  readonly name: string
  /** the RFC section or reason behind it */
  readonly see: string
  decide(input: In): Out | undefined
}
