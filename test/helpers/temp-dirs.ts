/**
 * Temporary directories for tests that write files (config files, mirrors): one root per
 * test file, removed when the file's tests end; `dir(files)` makes a fresh sub-directory.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'

export interface TempDirs {
  readonly root: string
  /** a fresh directory holding these files (name → text); returns its path */
  dir(files?: Record<string, string>): string
}

export function useTempDirs(prefix: string): TempDirs {
  const root = mkdtempSync(join(tmpdir(), prefix))
  after(() => rmSync(root, { recursive: true, force: true }))
  let count = 0
  return {
    root,
    dir(files = {}) {
      const path = join(root, `d${count++}`)
      mkdirSync(path)
      for (const [name, text] of Object.entries(files)) writeFileSync(join(path, name), text)
      return path
    },
  }
}
