/**
 * @module invalidate/invalidator
 * Applies invalidations to this node: purges by resource (URL) and by tag through the store's
 * indexes (no scan), bans through the ban list (lazy, then swept), hard (removed) or soft
 * (stale from now: served within grace while refreshed, revalidated with a 304).
 *
 * Every invalidation takes the next number of one sequence. A fetch remembers the number
 * current when it started; before its response is stored or shared with a late joiner, the
 * fetch asks `affectsFetch` whether an invalidation issued since then matches it. So a purge
 * reaches responses still on their way from the origin: they are delivered to the clients
 * that asked before the purge, and neither stored nor handed to anyone who asks after it.
 *
 *   issued ─▶ applied to the store (resources, tags) ─▶ logged (for fetches in flight)
 *          └▶ ban list ─▶ tested on lookup / by the sweeper ─▶ dropped after a full pass
 */
import type { Logger } from '../observe/logger.js'
import { type CacheStore, type InvalidationMode, type StoredObject, resourceOfKey } from '../store/types.js'
import { type Ban, type BanSpec, banMatches, describeBan, splitResource } from './bans.js'
import { compileSafePattern } from './safe-regex.js'

export interface InvalidationCommand {
  readonly mode: InvalidationMode
  /** resources (host + normalised path, see store/types resourceOfKey) */
  readonly resources?: readonly string[]
  readonly tags?: readonly string[]
  readonly bans?: readonly BanSpec[]
}

export interface InvalidationReceipt {
  mode: InvalidationMode
  /** entries invalidated now, per kind (bans: by the sweep, when the caller waited for it) */
  invalidated: { urls: number; tags: number; bans: number }
  bans: ReturnType<typeof describeBan>[]
  /** false when the caller did not wait for the bans' sweep: `invalidated.bans` counts only what was done so far */
  isComplete: boolean
}

export interface InvalidatorOptions {
  /** bans waiting for the sweeper beyond which new ones are refused */
  maxBans: number
  /** how often the sweeper checks for bans to apply */
  sweepIntervalMs: number
  /** objects tested per slice before the sweeper yields to requests */
  sweepSliceSize?: number
  /** told how many objects each kind of invalidation took (for metrics) */
  onInvalidated?: (kind: 'url' | 'tag' | 'ban', mode: InvalidationMode, count: number) => void
}

/** What an in-flight fetch could be matched by. */
interface LoggedInvalidation {
  seq: number
  resources?: ReadonlySet<string>
  tags?: ReadonlySet<string>
  bans?: readonly Ban[]
}

/**
 * How many past invalidations (and URLs, tags and bans in them) are kept for fetches in flight;
 * a fetch older than what is kept counts as affected, so forgetting is always safe.
 */
const LOG_COMMANDS = 4096
const LOG_ITEMS = 100_000

/** Longest stretch of sweeping before it yields to requests. */
const SLICE_MS = 4

export class TooManyBansError extends Error {}

export class Invalidator {
  /** the number of the latest invalidation */
  seq = 0
  private readonly bans: Ban[] = []
  private banIds = 0
  private readonly log: Array<LoggedInvalidation & { items: number }> = []
  private logItems = 0
  private sweeping?: Promise<void>
  private sweepAgain = false
  private readonly timer: NodeJS.Timeout
  private readonly sweepWaiters: Array<{ seq: number; resolve: () => void }> = []
  readonly sweeps = { passes: 0, lastPassObjects: 0, lastPassMs: 0 }

  constructor(private readonly store: CacheStore, private readonly logger: Logger, private readonly options: InvalidatorOptions) {
    this.timer = setInterval(() => { if (this.bans.length) void this.sweep() }, options.sweepIntervalMs)
    this.timer.unref()
  }

  /** Validates a ban and compiles its pattern once; a problem refuses the whole command. */
  static compileBan(spec: BanSpec): { regex?: RegExp } | { problem: string } {
    if (spec.host === undefined && spec.prefix === undefined && spec.pattern === undefined) return { problem: 'a ban needs a host, a prefix or a pattern' }
    if (spec.prefix !== undefined && !spec.prefix.startsWith('/')) return { problem: `prefix ${JSON.stringify(spec.prefix)} must start with /` }
    if (spec.pattern === undefined) return {}
    const compiled = compileSafePattern(spec.pattern)
    return compiled.ok ? { regex: compiled.regex } : { problem: `pattern ${JSON.stringify(spec.pattern)}: ${compiled.reason}` }
  }

  /** Bans waiting for the sweeper. */
  get pendingBans(): number {
    return this.bans.length
  }

  /** Applies a command on this node. Throws TooManyBansError (nothing applied) when the ban list is full. */
  async apply(command: InvalidationCommand, waitForBans = false): Promise<InvalidationReceipt> {
    const newBans = command.bans ?? []
    if (newBans.length > this.options.maxBans) {
      throw new RangeError(`${newBans.length} bans in one request, more than invalidation.maxBans (${this.options.maxBans}); split the request or raise the limit`)
    }
    if (this.bans.length + newBans.length > this.options.maxBans) {
      throw new TooManyBansError(`${this.bans.length} bans are waiting for the sweeper (limit ${this.options.maxBans}); retry in a moment`)
    }
    const compiled = newBans.map((spec) => Invalidator.compileBan(spec))
    for (const result of compiled) if ('problem' in result) throw new RangeError(result.problem)
    const seq = ++this.seq
    const now = Date.now()
    const bans: Ban[] = newBans.map((spec, i) => ({
      ...spec, id: ++this.banIds, seq, createdAt: now, mode: command.mode, tested: 0, invalidated: 0,
      regex: (compiled[i] as { regex?: RegExp }).regex,
    }))
    const entry: LoggedInvalidation & { items: number } = { seq, items: (command.resources?.length ?? 0) + (command.tags?.length ?? 0) + bans.length }
    if (command.resources?.length) entry.resources = new Set(command.resources)
    if (command.tags?.length) entry.tags = new Set(command.tags)
    if (bans.length) entry.bans = bans
    this.log.push(entry)
    this.logItems += entry.items
    while (this.log.length > 1 && (this.log.length > LOG_COMMANDS || this.logItems > LOG_ITEMS)) this.logItems -= this.log.shift()!.items
    this.bans.push(...bans)

    let urls = 0
    for (const resource of command.resources ?? []) urls += await this.store.invalidateResource(resource, command.mode)
    let tags = 0
    for (const tag of command.tags ?? []) tags += await this.store.invalidateTag(tag, command.mode)
    this.options.onInvalidated?.('url', command.mode, urls)
    this.options.onInvalidated?.('tag', command.mode, tags)
    this.logger('info', 'invalidated', {
      mode: command.mode, resources: command.resources?.length ?? 0, tags: command.tags?.length ?? 0, bans: bans.length, urls, tagged: tags,
    })
    if (bans.length) {
      const swept = this.whenSwept(seq)
      void this.sweep()
      if (waitForBans) await swept
    }
    return {
      mode: command.mode,
      invalidated: { urls, tags, bans: bans.reduce((n, b) => n + b.invalidated, 0) },
      bans: bans.map(describeBan),
      isComplete: bans.length === 0 || waitForBans,
    }
  }

  /**
   * On lookup: tests the object against the bans issued since it was last tested. Returns the
   * object (perhaps now soft-purged), or undefined when a hard ban removed it.
   */
  checkObject(object: StoredObject): StoredObject | undefined {
    if ((object.invalidationSeq ?? 0) >= this.seq || this.bans.length === 0) return object
    return this.testBans(object) === 'hard' ? undefined : object
  }

  /** Whether an invalidation issued after `sinceSeq` matches a fetch for `key` (tags unknown: undefined). */
  affectsFetch(sinceSeq: number, key: string, tags: readonly string[] | undefined): boolean {
    if (sinceSeq >= this.seq) return false
    if (this.log.length === 0 || this.log[0]!.seq > sinceSeq + 1) return true // older than what is remembered
    const resource = resourceOfKey(key)
    const { host, path } = splitResource(resource)
    for (let i = this.log.length - 1; i >= 0 && this.log[i]!.seq > sinceSeq; i--) {
      const entry = this.log[i]!
      if (entry.resources?.has(resource)) return true
      if (entry.tags && (tags === undefined || tags.some((t) => entry.tags!.has(t)))) return true
      if (entry.bans?.some((ban) => banMatches(ban, host, path))) return true
    }
    return false
  }

  listBans() {
    return { bans: this.bans.map(describeBan), sweeper: { ...this.sweeps, isRunning: this.sweeping !== undefined } }
  }

  close(): void {
    clearInterval(this.timer)
    for (const waiter of this.sweepWaiters.splice(0)) waiter.resolve()
  }

  /** Resolves once a sweep that started after invalidation `seq` has finished. */
  private whenSwept(seq: number): Promise<void> {
    return new Promise((resolve) => this.sweepWaiters.push({ seq, resolve }))
  }

  /** Tests one object against the bans newer than it; applies the first match. */
  private testBans(object: StoredObject): InvalidationMode | undefined {
    const since = object.invalidationSeq ?? 0
    object.invalidationSeq = this.seq
    const { host, path } = splitResource(resourceOfKey(object.key))
    for (const ban of this.bans) {
      if (ban.seq <= since) continue
      ban.tested++
      if (!banMatches(ban, host, path)) continue
      if (ban.mode === 'soft' && object.softPurgedAt !== undefined) continue
      ban.invalidated++
      this.options.onInvalidated?.('ban', ban.mode, 1)
      void this.store.invalidateObject(object, ban.mode)
      if (ban.mode === 'soft') object.softPurgedAt ??= Date.now()
      else object.isPurged = true
      return ban.mode
    }
    return undefined
  }

  /** One pass over the store; afterwards every ban issued before the pass began is done. */
  private sweep(): Promise<void> {
    if (this.sweeping) {
      this.sweepAgain = true
      return this.sweeping
    }
    this.sweeping = this.runSweep().finally(() => {
      this.sweeping = undefined
      if (this.sweepAgain) {
        this.sweepAgain = false
        void this.sweep()
      }
    })
    return this.sweeping
  }

  private async runSweep(): Promise<void> {
    const startSeq = this.seq
    const startedAt = performance.now()
    const slice = this.options.sweepSliceSize ?? 2000
    let objects = 0
    let inSlice = 0
    let sliceStart = performance.now()
    try {
      for await (const object of this.store.scan()) {
        objects++
        if ((object.invalidationSeq ?? 0) < startSeq) this.testBans(object)
        // a slice ends after `slice` objects or SLICE_MS of work, whichever comes first: with a
        // thousand bans waiting, one object costs a thousand tests, and requests must not wait
        if (++inSlice >= slice || ((inSlice & 15) === 0 && performance.now() - sliceStart > SLICE_MS)) {
          inSlice = 0
          await new Promise((resolve) => setImmediate(resolve))
          sliceStart = performance.now()
        }
      }
    } catch (err) {
      this.logger('error', 'ban sweep failed; bans kept for the next pass', { error: (err as Error).message })
      return
    }
    // objects stored since the pass began were checked against these bans when they were committed
    let done = 0
    while (done < this.bans.length && this.bans[done]!.seq <= startSeq) done++
    const finished = this.bans.splice(0, done)
    this.sweeps.passes++
    this.sweeps.lastPassObjects = objects
    this.sweeps.lastPassMs = Math.round((performance.now() - startedAt) * 10) / 10
    if (finished.length) {
      this.logger('info', 'bans swept', { bans: finished.length, objects, invalidated: finished.reduce((n, b) => n + b.invalidated, 0), ms: this.sweeps.lastPassMs })
    }
    for (let i = this.sweepWaiters.length - 1; i >= 0; i--) {
      if (this.sweepWaiters[i]!.seq <= startSeq) this.sweepWaiters.splice(i, 1)[0]!.resolve()
    }
  }
}
