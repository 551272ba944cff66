/**
 * Unit tests for config/load: config files of every supported type are found and read (a
 * fresh read each call, so a reload sees the file as it is now); every failure is
 * ERR_CONFIG_INVALID naming the file and what to do.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, test } from 'node:test'
import { useTempDirs } from '../../test/helpers/temp-dirs.js'
import { LacquerError } from '../errors.js'
import { CONFIG_FILE_NAMES, findConfigFile, loadConfig } from './load.js'
import { resolveConfig } from './resolve.js'

/** The built library entry point, imported by the TypeScript config files under test. */
const INDEX_JS = fileURLToPath(new URL('../index.js', import.meta.url))
const ORIGIN = 'http://127.0.0.1:3000'

const { dir } = useTempDirs('lacquer-load-')

/** Writes one file into a fresh directory; returns its absolute path. */
function file(name: string, text: string): string {
  return join(dir({ [name]: text }), name)
}

/** Asserts that loading `path` fails with ERR_CONFIG_INVALID naming the file, and whose message matches every pattern. */
async function assertLoadError(path: string, ...patterns: RegExp[]): Promise<string> {
  let message = ''
  await assert.rejects(loadConfig(path), (error: unknown) => {
    assert.ok(error instanceof LacquerError, `expected a LacquerError, got ${String(error)}`)
    assert.equal(error.code, 'ERR_CONFIG_INVALID')
    assert.ok(error.message.startsWith(`invalid configuration: ${path}: `), error.message)
    for (const pattern of patterns) assert.match(error.message, pattern)
    message = error.message
    return true
  })
  return message
}

const RULES_YAML = `origin: ${ORIGIN}
listen: 127.0.0.1:0
rules:
  - name: checkout
    match: { path: /checkout/** }
    pass: true
  - match:
      path: [/assets/**]
    cache: true
    ttl: 1d
`

const RULES_OBJECT = {
  origin: ORIGIN,
  listen: '127.0.0.1:0',
  rules: [
    { name: 'checkout', match: { path: '/checkout/**' }, pass: true },
    { match: { path: ['/assets/**'] }, cache: true, ttl: '1d' },
  ],
}

describe('loadConfig: file types', () => {
  test('.ts with defineConfig imported from the library, and TypeScript syntax', async () => {
    const path = file('lacquer.config.ts', `import { defineConfig } from ${JSON.stringify(INDEX_JS)}
const day: string = '1d'
export default defineConfig({
  origin: ${JSON.stringify(ORIGIN)},
  listen: '127.0.0.1:0',
  rules: [
    { name: 'checkout', match: { path: '/checkout/**' }, pass: true },
    { match: { path: ['/assets/**'] }, cache: true, ttl: day },
  ],
})
`)
    assert.deepEqual(await loadConfig(path), RULES_OBJECT)
  })

  test('.ts exporting a plain object', async () => {
    const path = file('config.ts', `interface Shape { origin: string }
const config: Shape & Record<string, unknown> = ${JSON.stringify(RULES_OBJECT)}
export default config
`)
    assert.deepEqual(await loadConfig(path), RULES_OBJECT)
  })

  test('.ts with hooks: the functions are kept and the config resolves', async () => {
    const path = file('hooks.ts', `import { defineConfig } from ${JSON.stringify(INDEX_JS)}
export default defineConfig({
  origin: ${JSON.stringify(ORIGIN)},
  hooks: {
    recv: (req) => (req.path === '/admin' ? { action: 'pass', detail: 'RULE-PASS' } : undefined),
  },
})
`)
    const config = await loadConfig(path)
    assert.equal(typeof config.hooks?.recv, 'function')
    assert.deepEqual(config.hooks!.recv!({ method: 'GET', path: '/admin', host: 'a', scheme: 'http', headers: [], clientAddress: '' }), { action: 'pass', detail: 'RULE-PASS' })
    assert.equal(resolveConfig(config).origin.url, ORIGIN)
  })

  test('.ts importing a sibling module', async () => {
    const d = dir({
      'rules.ts': `export const rules = ${JSON.stringify(RULES_OBJECT.rules)}\n`,
      'lacquer.config.ts': `import { rules } from './rules.ts'\nexport default { origin: ${JSON.stringify(ORIGIN)}, listen: '127.0.0.1:0', rules }\n`,
    })
    assert.deepEqual(await loadConfig(join(d, 'lacquer.config.ts')), RULES_OBJECT)
  })

  test('.mts, .mjs and .js (ES modules)', async () => {
    for (const name of ['config.mts', 'config.mjs', 'config.js']) {
      assert.deepEqual(await loadConfig(file(name, `export default ${JSON.stringify(RULES_OBJECT)}\n`)), RULES_OBJECT, name)
    }
  })

  test('.cjs (module.exports)', async () => {
    assert.deepEqual(await loadConfig(file('config.cjs', `module.exports = ${JSON.stringify(RULES_OBJECT)}\n`)), RULES_OBJECT)
  })

  test('a default export that is a function (sync or async) is called', async () => {
    assert.deepEqual(await loadConfig(file('fn.ts', `export default () => (${JSON.stringify(RULES_OBJECT)})\n`)), RULES_OBJECT)
    assert.deepEqual(await loadConfig(file('fn.mjs', `export default async () => (${JSON.stringify(RULES_OBJECT)})\n`)), RULES_OBJECT)
  })

  test('.json', async () => {
    assert.deepEqual(await loadConfig(file('lacquer.config.json', JSON.stringify(RULES_OBJECT, null, 2))), RULES_OBJECT)
  })

  test('.yaml and .yml', async () => {
    assert.deepEqual(await loadConfig(file('lacquer.config.yaml', RULES_YAML)), RULES_OBJECT)
    assert.deepEqual(await loadConfig(file('lacquer.config.yml', RULES_YAML)), RULES_OBJECT)
  })

  test('the extension is case-insensitive', async () => {
    assert.deepEqual(await loadConfig(file('CONFIG.YAML', RULES_YAML)), RULES_OBJECT)
  })

  test('a relative path is read from the working directory', async () => {
    const path = file('rel.yaml', RULES_YAML)
    assert.deepEqual(await loadConfig(relative(process.cwd(), path)), RULES_OBJECT)
  })

  test('every type resolves to the same config', async () => {
    const a = resolveConfig(await loadConfig(file('a.yaml', RULES_YAML)))
    const b = resolveConfig(await loadConfig(file('b.ts', `export default ${JSON.stringify(RULES_OBJECT)}\n`)))
    assert.deepEqual(a.rules.map((r) => [r.name, r.pass, r.cache, r.ttlMs]), [['checkout', true, undefined, undefined], ['rules[1]', undefined, true, 86_400_000]])
    assert.deepEqual(b.rules.map((r) => [r.name, r.pass, r.cache, r.ttlMs]), a.rules.map((r) => [r.name, r.pass, r.cache, r.ttlMs]))
  })
})

describe('loadConfig: a fresh read every call (what a reload sees)', () => {
  for (const ext of ['ts', 'mts', 'mjs', 'js', 'json', 'yaml']) {
    test(`.${ext}`, async () => {
      const text = (port: number) => (ext === 'json' ? JSON.stringify({ origin: `http://127.0.0.1:${port}` })
        : ext === 'yaml' ? `origin: http://127.0.0.1:${port}\n` : `export default { origin: 'http://127.0.0.1:${port}' }\n`)
      const path = file(`lacquer.config.${ext}`, text(1111))
      assert.equal((await loadConfig(path)).origin, 'http://127.0.0.1:1111')
      writeFileSync(path, text(2222))
      assert.equal((await loadConfig(path)).origin, 'http://127.0.0.1:2222')
    })
  }

  test('a .ts config\'s own imports are re-read too', async () => {
    const d = dir({
      'part.ts': `export const origin = 'http://127.0.0.1:1111'\n`,
      'lacquer.config.ts': `import { origin } from './part.ts'\nexport default { origin }\n`,
    })
    assert.equal((await loadConfig(join(d, 'lacquer.config.ts'))).origin, 'http://127.0.0.1:1111')
    writeFileSync(join(d, 'part.ts'), `export const origin = 'http://127.0.0.1:2222'\n`)
    assert.equal((await loadConfig(join(d, 'lacquer.config.ts'))).origin, 'http://127.0.0.1:2222')
  })
})

describe('loadConfig: errors name the file and the fix', () => {
  test('a missing file', async () => {
    const path = join(dir(), 'lacquer.config.yaml')
    await assertLoadError(path, /no such file; pass --config PATH or create lacquer\.config\.yaml in the working directory/)
  })

  test('a missing file given by a relative path is named by its absolute path', async () => {
    const path = join(dir(), 'nope.yaml')
    await assert.rejects(loadConfig(relative(process.cwd(), path)), (error: unknown) => {
      assert.ok(error instanceof LacquerError && error.code === 'ERR_CONFIG_INVALID')
      assert.ok(error.message.includes(`${path}: no such file`), error.message)
      return true
    })
  })

  test('bad JSON: where it breaks', async () => {
    const path = file('lacquer.config.json', '{\n  "origin": "http://127.0.0.1:3000",\n}\n')
    await assertLoadError(path, /: not valid JSON: /, /position \d+|line \d+/)
  })

  test('bad YAML: the line and column', async () => {
    const path = file('lacquer.config.yaml', 'origin: http://127.0.0.1:3000\nrules:\n  - match: { path: /a\n    pass: true\n')
    await assertLoadError(path, /: not valid YAML: /, /line \d+, column \d+/)
    const tabs = file('tabs.yaml', 'origin: http://x\n\tlisten: 1\n')
    await assertLoadError(tabs, /: not valid YAML: /, /line 2/)
  })

  test('a .ts that throws: the thrown message', async () => {
    const path = file('lacquer.config.ts', `const port: number = 3000\nif (port) throw new Error('SECRET env var is not set')\nexport default { origin: 'http://127.0.0.1:' + port }\n`)
    await assertLoadError(path, /: could not be loaded: /, /SECRET env var is not set/)
  })

  test('a .ts with a syntax error: where it breaks', async () => {
    const path = file('lacquer.config.ts', `export default {\n  origin: 'http://127.0.0.1:3000',\n  rules: [ { pass: true ]\n}\n`)
    const message = await assertLoadError(path, /: could not be loaded: /)
    // the parser's position (file:line:column or "line N") must survive into the message
    assert.match(message, /lacquer\.config\.ts:3:\d+|line 3/, message)
  })

  test('a .ts that imports a missing module names that module', async () => {
    const path = file('lacquer.config.ts', `import { rules } from './missing-rules.ts'\nexport default { origin: 'http://127.0.0.1:3000', rules }\n`)
    await assertLoadError(path, /: could not be loaded: /, /missing-rules/)
  })

  test('an unknown extension lists the supported ones', async () => {
    const path = file('lacquer.config.toml', 'origin = "http://127.0.0.1:3000"\n')
    await assertLoadError(path, /unknown file type "\.toml"; use \.ts, \.mjs, \.js, \.json, \.yaml or \.yml/)
    await assertLoadError(file('lacquer-config', 'origin: x\n'), /unknown file type ""; use \.ts/)
  })

  test('a file that holds no object: empty, a list, a scalar, a non-object export', async () => {
    const fix = /must export \(or contain\) an object, e\.g\. `export default defineConfig\(\{ origin: "http:\/\/127\.0\.0\.1:3000" \}\)`/
    await assertLoadError(file('empty.yaml', ''), fix)
    await assertLoadError(file('list.json', '[1, 2]'), fix)
    await assertLoadError(file('scalar.yaml', 'http://127.0.0.1:3000\n'), fix)
    await assertLoadError(file('null.json', 'null'), fix)
    await assertLoadError(file('num.ts', 'export default 42\n'), fix)
  })

  test('a .ts that forgets `export default` is told to export its config', async () => {
    const path = file('lacquer.config.ts', `import { defineConfig } from ${JSON.stringify(INDEX_JS)}\ndefineConfig({ origin: 'http://127.0.0.1:3000' })\n`)
    await assertLoadError(path, /must export \(or contain\) an object, e\.g\. `export default defineConfig/)
  })

  test('loading does not validate: resolveConfig does, with key paths', async () => {
    const config = await loadConfig(file('bad.yaml', 'origin: http://127.0.0.1:3000\nstore:\n  size: lots\n'))
    assert.deepEqual(config, { origin: ORIGIN, store: { size: 'lots' } })
    assert.throws(() => resolveConfig(config), /store\.size: "lots" — not a size/)
  })
})

describe('findConfigFile', () => {
  test('the documented names, in order', () => {
    assert.deepEqual([...CONFIG_FILE_NAMES], [
      'lacquer.config.ts', 'lacquer.config.mts', 'lacquer.config.mjs', 'lacquer.config.js',
      'lacquer.config.json', 'lacquer.config.yaml', 'lacquer.config.yml',
    ])
  })

  test('none: undefined', () => {
    assert.equal(findConfigFile(dir({ 'other.yaml': RULES_YAML, 'lacquer.yaml': RULES_YAML })), undefined)
  })

  test('each name is found, as an absolute path', () => {
    for (const name of CONFIG_FILE_NAMES) {
      const d = dir({ [name]: '' })
      assert.equal(findConfigFile(d), join(d, name), name)
    }
  })

  test('the first name in the list wins', () => {
    const d = dir({ 'lacquer.config.yaml': RULES_YAML, 'lacquer.config.json': '{}', 'lacquer.config.ts': 'export default {}' })
    assert.equal(findConfigFile(d), join(d, 'lacquer.config.ts'))
    const e = dir({ 'lacquer.config.yml': RULES_YAML, 'lacquer.config.yaml': RULES_YAML })
    assert.equal(findConfigFile(e), join(e, 'lacquer.config.yaml'))
  })
})
