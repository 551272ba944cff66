/**
 * @module config/load
 * Finds and reads a config file: `lacquer.config.ts` / `.mts` / `.mjs` / `.js` (loaded with
 * jiti, so TypeScript needs no build step), `.json` or `.yaml` / `.yml`. Errors name the file
 * and the fix; validation is config/resolve's job.
 */
import { existsSync, readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { extname, resolve } from 'node:path'
import { createJiti } from 'jiti'
import { parse as parseYaml } from 'yaml'
import { LacquerError } from '../errors.js'
import type { LacquerConfig } from './schema.js'

export const CONFIG_FILE_NAMES = [
  'lacquer.config.ts', 'lacquer.config.mts', 'lacquer.config.mjs', 'lacquer.config.js',
  'lacquer.config.json', 'lacquer.config.yaml', 'lacquer.config.yml',
] as const

/** The first config file found by name in `dir`, or undefined. */
export function findConfigFile(dir: string = process.cwd()): string | undefined {
  for (const name of CONFIG_FILE_NAMES) {
    const path = resolve(dir, name)
    if (existsSync(path)) return path
  }
  return undefined
}

let reads = 0

function fail(path: string, why: string): LacquerError {
  return new LacquerError('ERR_CONFIG_INVALID', `${path}: ${why}`)
}

/** Reads a config file. A fresh read every call (a reload sees the file as it is now). */
export async function loadConfig(path: string): Promise<LacquerConfig> {
  const absolute = resolve(path)
  if (!existsSync(absolute)) throw fail(absolute, 'no such file; pass --config PATH or create lacquer.config.yaml in the working directory')
  const ext = extname(absolute).toLowerCase()
  let value: unknown
  if (ext === '.json' || ext === '.yaml' || ext === '.yml') {
    const text = readFileSync(absolute, 'utf8')
    try {
      value = ext === '.json' ? JSON.parse(text) : parseYaml(text, { prettyErrors: true })
    } catch (err) {
      throw fail(absolute, `not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`)
    }
  } else if (ext === '.mjs' || ext === '.js') {
    // Node's own loader, with a new URL each read so a reload sees the file as it is now
    try {
      const module = await import(`${pathToFileURL(absolute).href}?read=${++reads}`) as { default?: unknown }
      value = module.default ?? (Object.keys(module).length ? module : undefined)
    } catch (err) {
      const lines = (err as Error).message.split('\n').map((l) => l.trim()).filter(Boolean)
      throw fail(absolute, `could not be loaded: ${lines.slice(0, 2).join(' — ')}`)
    }
  } else if (['.ts', '.mts', '.cts', '.cjs'].includes(ext)) {
    // tryNative off: every read goes through jiti, never through Node's own module cache (a reload re-reads .mjs too)
    const jiti = createJiti(import.meta.url, { moduleCache: false, fsCache: false, interopDefault: true, tryNative: false })
    try {
      value = await jiti.import(absolute, { default: true })
    } catch (err) {
      // keep the location line (file:line:column) jiti puts under the message
      const lines = (err as Error).message.split('\n').map((l) => l.trim()).filter(Boolean)
      throw fail(absolute, `could not be loaded: ${lines.slice(0, 2).join(' — ')}`)
    }
    if (value && typeof value === 'object' && Object.keys(value).length === 0) value = undefined // no default export
  } else {
    throw fail(absolute, `unknown file type "${ext}"; use .ts, .mjs, .js, .json, .yaml or .yml`)
  }
  if (typeof value === 'function') value = await (value as () => unknown)()
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw fail(absolute, 'must export (or contain) an object, e.g. `export default defineConfig({ origin: "http://127.0.0.1:3000" })`')
  }
  return value as LacquerConfig
}
