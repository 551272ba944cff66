/**
 * @module esi/assemble
 * A reference executor of an esi/plan: starts every include at once (parallel), writes the
 * page in document order as soon as each piece is ready, and applies the failure rules of ESI
 * 1.0 (§3.1 `alt` then `onerror="continue"`, §3.4 `try`/`except`). It does no networking: the
 * caller passes `fetchFragment`, which delivery implements with child requests. It buffers
 * only what it must: the output of a `try`'s `attempt` (which a later failure replaces) and
 * each fragment's body (fragments are small; a fragment's own ESI is the caller's to assemble).
 *
 * API:
 * ```ts
 * const plan = buildPlan(doc, request)
 * try {
 *   for await (const bytes of assemble(plan, async (url, slot) => fetchBody(url))) res.write(bytes)
 * } catch (error) {
 *   if (error instanceof EsiIncludeError) { … } // an include failed outside any try, without onerror="continue"
 * }
 * ```
 * `fetchFragment(url, slot)` resolves to the body (a Buffer) on success; resolving to
 * `undefined` or rejecting is a failure of that URL (the next URL, `alt`, is then tried).
 * Includes inside an `except` are started only when that `except` is taken. When
 * `EsiIncludeError` is thrown, the bytes already yielded are a page prefix: the caller must
 * not let it pass for a complete page (§3.1 wants an error status; the issue forbids a
 * silently truncated page).
 */
import { LacquerError } from '../errors.js'
import { includesOf, type EsiPlan, type PlanInclude, type PlanItem } from './plan.js'

export type FetchFragment = (url: string, slot: PlanInclude) => Promise<Buffer | undefined>

type Outcome = { ok: true; body: Buffer } | { ok: false; reasons: string[] }

/**
 * An include failed and nothing caught it (no `onerror="continue"`, no enclosing `try`):
 * `ERR_ESI_INCLUDE_FAILED` (502; §3.1 asks for a status above 400).
 */
export class EsiIncludeError extends LacquerError {
  constructor(readonly slot: PlanInclude, readonly reasons: string[]) {
    super('ERR_ESI_INCLUDE_FAILED', `esi:include at byte ${slot.offset}: ${reasons.join('; ')}`)
    this.name = 'EsiIncludeError'
  }
}

async function fetchSlot(slot: PlanInclude, fetchFragment: FetchFragment): Promise<Outcome> {
  if (slot.refused) return { ok: false, reasons: [slot.refused] }
  const reasons: string[] = []
  for (const url of slot.urls) {
    try {
      const body = await fetchFragment(url, slot)
      if (body) return { ok: true, body }
      reasons.push(`${url} failed`)
    } catch (error) {
      reasons.push(`${url}: ${(error as Error)?.message ?? String(error)}`)
    }
  }
  return { ok: false, reasons }
}

export async function* assemble(plan: EsiPlan, fetchFragment: FetchFragment): AsyncGenerator<Buffer, void, undefined> {
  const outcomes = new Map<number, Promise<Outcome>>()
  const start = (slot: PlanInclude): Promise<Outcome> => {
    let outcome = outcomes.get(slot.id)
    if (!outcome) {
      outcome = fetchSlot(slot, fetchFragment)
      outcomes.set(slot.id, outcome)
    }
    return outcome
  }
  for (const slot of plan.includes) if (!slot.isFallback) void start(slot)

  async function* emit(items: readonly PlanItem[]): AsyncGenerator<Buffer, void, undefined> {
    for (const item of items) {
      if (item.type === 'text') { yield item.bytes; continue }
      if (item.type === 'include') {
        const outcome = await start(item)
        if (outcome.ok) yield outcome.body
        else if (!item.continueOnError) throw new EsiIncludeError(item, outcome.reasons)
        continue
      }
      // try (§3.4): the attempt is written only once all of it succeeded
      const attempt: Buffer[] = []
      let failed = false
      try {
        for await (const bytes of emit(item.attempt)) attempt.push(bytes)
      } catch (error) {
        if (!(error instanceof EsiIncludeError)) throw error
        failed = true
      }
      if (!failed) { yield* attempt; continue }
      for (const slot of includesOf(item.except)) void start(slot)
      yield* emit(item.except)
    }
  }
  yield* emit(plan.items)
}

/** Runs `assemble` to the end and returns the whole page (tests, small pages). */
export async function assembleToBuffer(plan: EsiPlan, fetchFragment: FetchFragment): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const bytes of assemble(plan, fetchFragment)) parts.push(bytes)
  return Buffer.concat(parts)
}
