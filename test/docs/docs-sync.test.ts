/**
 * Docs are part of the code: the generated blocks in docs/ must match the catalogs they come
 * from (states and exits, error codes, Cache-Status details), and the README's test command
 * must be the one CI runs.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { GENERATED_BLOCKS, renderDoc } from '../../scripts/gen-docs.js'
import { ERRORS } from '../../src/errors.js'
import { STEPS } from '../../src/fsm/run.js'
import { STATES } from '../../src/fsm/steps.js'

const files = [...new Set(Object.values(GENERATED_BLOCKS).map((b) => b.file))]

for (const file of files) {
  test(`${file} matches the code's catalogs (run \`npm run docs:gen\` to update)`, () => {
    const current = readFileSync(file, 'utf8')
    assert.equal(renderDoc(file, current), current)
  })
}

test('every state has a step, named after it, whose exits are states', () => {
  for (const state of STATES) {
    assert.equal(STEPS[state].name, state)
    for (const exit of STEPS[state].exits) assert.ok(exit === 'done' || (STATES as readonly string[]).includes(exit), `${state} → ${exit}`)
  }
})

test('every state is described in docs/architecture.md', () => {
  const doc = readFileSync('docs/architecture.md', 'utf8')
  for (const state of STATES) assert.match(doc, new RegExp(`\\| \`${state}\` \\|`), state)
})

test('error codes follow ERR_<AREA>_<WHAT> with a known area', () => {
  for (const code of Object.keys(ERRORS)) assert.match(code, /^ERR_(HTTP|ORIGIN|CONFIG|SERVER|STORE|POLICY|ESI|PURGE)_[A-Z_]+$/)
})

test('.ci/run runs the README\'s test command', () => {
  const readme = readFileSync('README.md', 'utf8')
  const ci = readFileSync('.ci/run', 'utf8')
  assert.match(readme, /npm test/)
  assert.match(ci, /^\s*npm test\s*$/m)
})

test('the sample config is valid and names every top-level key of the schema', async () => {
  const { loadConfig } = await import('../../src/config/load.js')
  const { resolveConfig } = await import('../../src/config/resolve.js')
  const { configSchema } = await import('../../src/config/schema.js')
  const sample = await loadConfig('docs/lacquer.config.sample.yaml')
  assert.doesNotThrow(() => resolveConfig(sample))
  const sampleText = readFileSync('docs/lacquer.config.sample.yaml', 'utf8')
  for (const key of Object.keys(configSchema.shape)) {
    if (key === 'hooks') continue // TypeScript only: docs/policy.md
    // origin and origins exclude each other: the valid sample has origin, and origins commented out
    if (key === 'origins') { assert.match(sampleText, /^# origins:$/m, 'docs/lacquer.config.sample.yaml lacks "# origins:"'); continue }
    assert.ok(key in sample, `docs/lacquer.config.sample.yaml lacks "${key}"`)
  }
  const doc = readFileSync('docs/configuration.md', 'utf8')
  for (const key of Object.keys(configSchema.shape)) assert.match(doc, new RegExp(`\`${key}`), `docs/configuration.md lacks ${key}`)
})
