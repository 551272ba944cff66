/**
 * @module http-cache/http-date
 * HTTP-date parsing (RFC 9110 §5.6.7): IMF-fixdate, and the obsolete RFC 850 and asctime
 * forms that a recipient MUST accept. Anything else is invalid (and an invalid `Expires`
 * means "already expired", RFC 9111 §5.3).
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const DAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']
const LONG_DAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday']

// Day and month names and "GMT" are matched without regard to case: senders get them wrong,
// and reading them is harmless (cache-tests checks this as "optimal").
const IMF_FIXDATE = /^([a-z]{3}), (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) gmt$/i
const RFC850_DATE = /^([a-z]{6,9}), (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) gmt$/i
const ASCTIME_DATE = /^([a-z]{3}) ([a-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i

function build(year: number, monthName: string, day: number, h: number, m: number, s: number): number | undefined {
  const month = MONTHS.indexOf(monthName.toLowerCase())
  if (month < 0 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return undefined
  return Date.UTC(year, month, day, h, m, s)
}

/** Returns epoch ms, or `undefined` when the text is not an HTTP-date. */
export function parseHttpDate(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  let m = IMF_FIXDATE.exec(text)
  if (m) {
    if (!DAY_NAMES.includes(m[1]!.toLowerCase())) return undefined
    return build(Number(m[4]), m[3]!, Number(m[2]), Number(m[5]), Number(m[6]), Number(m[7]))
  }
  m = RFC850_DATE.exec(text)
  if (m) {
    if (!LONG_DAY_NAMES.includes(m[1]!.toLowerCase())) return undefined
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century
    const yy = Number(m[4])
    const nowYear = new Date().getUTCFullYear()
    let year = Math.floor(nowYear / 100) * 100 + yy
    if (year > nowYear + 50) year -= 100
    return build(year, m[3]!, Number(m[2]), Number(m[5]), Number(m[6]), Number(m[7]))
  }
  m = ASCTIME_DATE.exec(text)
  if (m) {
    if (!DAY_NAMES.includes(m[1]!.toLowerCase())) return undefined
    return build(Number(m[7]), m[2]!, Number(m[3]!.trim()), Number(m[4]), Number(m[5]), Number(m[6]))
  }
  return undefined
}

/** Formats epoch ms as an IMF-fixdate. */
export function formatHttpDate(epochMs: number): string {
  return new Date(epochMs).toUTCString()
}
