/**
 * @module observe/logger
 * Structured log lines (JSON) on stderr. Levels: error, warn, info, debug.
 */

export type LogLevel = 'error' | 'warn' | 'info' | 'debug'
const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }

export interface Logger {
  (level: LogLevel, msg: string, fields?: Record<string, unknown>): void
}

export function createLogger(minLevel: LogLevel = 'info', write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const min = RANK[minLevel]
  return (level, msg, fields) => {
    if (RANK[level] > min) return
    write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`)
  }
}

export const silentLogger: Logger = () => {}
