/**
 * The `lacquer` command run as a child process, as a user runs it: its output collected, its
 * exit awaited, and every child remembered so the test file can end the ones still running.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { resolve } from 'node:path'

/** absolute: some tests run the command in another working directory */
export const BIN = resolve('dist/src/cli/main.js')

export interface CliRun {
  child: ChildProcess
  /** the exit code (null when killed by a signal) */
  exited: Promise<number | null>
  readonly stdout: string
  readonly stderr: string
  /** resolves with the first match of `pattern` in the stream; throws if the process exits or `ms` pass first */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr', ms?: number): Promise<RegExpMatchArray>
}

export interface CliOptions {
  cwd?: string
  /** added to the environment */
  env?: Record<string, string>
  /** the list the test file ends in its `after` hook */
  children?: ChildProcess[]
  /** SIGKILL after this long, so a hung command cannot hang the suite */
  killAfterMs?: number
}

export function runCli(args: string[], options: CliOptions = {}): CliRun {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd, env: options.env ? { ...process.env, ...options.env } : undefined,
  })
  options.children?.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => { stdout += d })
  child.stderr!.on('data', (d) => { stderr += d })
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  if (options.killAfterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), options.killAfterMs).unref()
  return {
    child, exited,
    get stdout() { return stdout },
    get stderr() { return stderr },
    async waitFor(pattern, stream = 'stdout', ms = 10_000) {
      const until = Date.now() + ms
      for (;;) {
        const m = (stream === 'stdout' ? stdout : stderr).match(pattern)
        if (m) return m
        if (child.exitCode !== null || Date.now() > until) throw new Error(`no ${pattern} in ${stream}; stdout=${stdout} stderr=${stderr}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
  }
}

/** Ends every child still running (for `after`). */
export function killAll(children: ChildProcess[]): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
}
