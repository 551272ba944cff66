/**
 * @module esi/report
 * The last assembled ESI pages of a proxy, with each fragment's status, Cache-Status and time:
 * what the admin port's `GET /esi` shows (and the demo shop's "what was cached" page).
 * A bounded ring: recording costs one array write per page.
 */
import type { ProxyContext } from '../context.js'
import { type CacheStatus, formatCacheStatus } from '../observe/cache-status.js'
import type { FragmentReport } from './child-request.js'

export interface EsiPageReport {
  url: string
  at: number
  cacheStatus: string
  /** complete, failed (answered with an error before the head) or aborted (esi/deliver's end states) */
  state: string
  fragments: FragmentReport[]
}

export const ESI_REPORT_SIZE = 50

const reports = new WeakMap<ProxyContext, EsiPageReport[]>()

export function recordEsiPage(ctx: ProxyContext, page: Omit<EsiPageReport, 'cacheStatus'> & { cacheStatus: CacheStatus }): void {
  let ring = reports.get(ctx)
  if (!ring) { ring = []; reports.set(ctx, ring) }
  ring.push({ ...page, cacheStatus: formatCacheStatus(page.cacheStatus) })
  if (ring.length > ESI_REPORT_SIZE) ring.shift()
}

/** The recorded pages, newest first. */
export function recentEsiPages(ctx: ProxyContext): EsiPageReport[] {
  return [...(reports.get(ctx) ?? [])].reverse()
}
