/**
 * @module cli/v8-tuning
 * How `lacquer serve` tunes V8 for a proxy (ADR 0011), set before any request is served: the
 * first import of cli/main.ts, so every process the command starts (each `--workers` worker
 * too) runs with it. An application that embeds Lacquer (`createProxy`) passes the same flag
 * on its node command line.
 *
 * Allocation-site pretenuring off: V8 allocates the objects of an allocation site straight in
 * the old generation once most of them survived a young collection. A proxy's request objects
 * live across an await (the origin's answer) and do survive the young collections that fall
 * while they are in flight; once a per-request site is pretenured, every dead request object
 * in the old generation keeps the young objects it points to alive until the next full
 * collection, and their sites get pretenured in turn. Measured on the pass path: 4 KB of every
 * pass promoted, a third of its instructions spent in the collector (bench/README.md).
 */
import v8 from 'node:v8'

export const V8_FLAGS = ['--no-allocation-site-pretenuring'] as const

for (const flag of V8_FLAGS) v8.setFlagsFromString(flag)
