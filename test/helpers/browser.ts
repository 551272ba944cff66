/**
 * A real headless Chromium for the browser tests: Debian's `chromium` package driven by
 * playwright-core (no browser download). When it is not installed the test must fail — not
 * skip — and say how to install it (.ci/run does).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'

export const CHROMIUM_PATH = '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
]

export interface TestBrowser {
  context: BrowserContext
  page: Page
  close(): Promise<void>
}

/** Throws, naming the package, when Debian's chromium is not installed. */
export function requireChromium(path = CHROMIUM_PATH): void {
  if (!existsSync(path)) {
    throw new Error(`no Chromium at ${path}: the browser tests need Debian's chromium package — run \`apt-get install -y chromium\` (as .ci/run does)`)
  }
}

/**
 * Launches headless Chromium with a fresh, temporary profile (removed on close) and opens one
 * page of the given viewport.
 */
export async function launchBrowser(viewport = { width: 1280, height: 900 }): Promise<TestBrowser> {
  requireChromium()
  const profile = mkdtempSync(join(tmpdir(), 'lacquer-chromium-'))
  let context: BrowserContext
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport,
      timeout: 30_000,
    })
  } catch (err) {
    rmSync(profile, { recursive: true, force: true })
    throw err
  }
  const page = context.pages()[0] ?? await context.newPage()
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => {})
      rmSync(profile, { recursive: true, force: true })
    },
  }
}
