/**
 * The `lacquer` command runs with V8's flags for a proxy (ADR 0011): cli/v8-tuning sets them,
 * and it is the first module cli/main evaluates, so they hold before anything is served (and in
 * every worker, which runs the same entry point).
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { V8_FLAGS } from '../../src/cli/v8-tuning.js'

const CLI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli')

test('v8-tuning turns allocation-site pretenuring off, through v8.setFlagsFromString', () => {
  assert.deepEqual(V8_FLAGS, ['--no-allocation-site-pretenuring'])
  const script = `
    import v8 from 'node:v8'
    const set = v8.setFlagsFromString
    const seen = []
    v8.setFlagsFromString = (flag) => { seen.push(flag); set(flag) }
    await import(${JSON.stringify(path.join(CLI_DIR, 'v8-tuning.js'))})
    process.stdout.write(JSON.stringify(seen))`
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  assert.deepEqual(JSON.parse(out), ['--no-allocation-site-pretenuring'])
})

test('cli/main evaluates v8-tuning before any other module', () => {
  const main = fs.readFileSync(path.join(CLI_DIR, 'main.js'), 'utf8')
  const imports = [...main.matchAll(/^import\s[^;]*?['"]([^'"]+)['"]/gm)].map((m) => m[1])
  assert.equal(imports[0], './v8-tuning.js', `first import: ${imports[0]}`)
})
