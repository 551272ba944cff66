// Preloaded into Lacquer by bench/memory.mjs, and only there
// (`node --expose-gc --require bench/gc-on-signal.cjs dist/src/cli/main.js serve …`): on SIGUSR2
// a full garbage collection, then, when LACQUER_BENCH_SNAPSHOT_DIR is set, a heap snapshot
// written there; each time, a marker file `gc-N.done` in that directory (or the working
// directory) tells the bench it is over. Lacquer's own code is not changed for the bench.
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const v8 = require('node:v8')

let count = 0
process.on('SIGUSR2', () => {
  const dir = process.env.LACQUER_BENCH_SNAPSHOT_DIR || process.cwd()
  count++
  // twice: the first collection runs the finalizers that give Buffers' memory back, the second frees what they held
  globalThis.gc()
  globalThis.gc()
  const snapshot = process.env.LACQUER_BENCH_SNAPSHOT_DIR ? v8.writeHeapSnapshot(path.join(dir, `gc-${count}.heapsnapshot`)) : ''
  fs.writeFileSync(path.join(dir, `gc-${count}.done`), snapshot)
})
