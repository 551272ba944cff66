#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with node's test runner. Node 20's
// `node --test` does not expand globs, so the file list is built here and passed explicitly.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) collect(path, out)
    else if (name.endsWith('.test.js')) out.push(path)
  }
  return out
}

const only = process.argv.slice(2)
let files = collect('dist', []).sort()
if (only.length) files = files.filter((f) => only.some((o) => f.includes(o)))
if (files.length === 0) {
  console.error('run-tests: no test files found under dist/ (did the build run?)')
  process.exit(1)
}
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=2', ...files], { stdio: 'inherit' })
process.exit(result.status ?? 1)
