/**
 * @module policy/cookies
 * The built-in list of cookies that never matter to the origin's rendering: analytics, ads
 * and A/B tools read them in the browser. Extended or replaced by `cookies.ignore` and
 * `cookies.ignoreBuiltin` in the config.
 */

export const TRACKING_COOKIE_PATTERNS: readonly RegExp[] = [
  /^_ga($|_)/, /^_gid$/, /^_gat/, /^_gcl_/, /^__utm[a-z]$/, /^_fbp$/, /^_fbc$/, /^_hj/, /^_pk_(id|ses|ref|cvar)/,
  /^_clck$/, /^_clsk$/, /^_uetsid$/, /^_uetvid$/, /^mp_/, /^ajs_(anonymous|user)_id$/, /^__hs(c|sc|tc)$/,
  /^hubspotutk$/, /^_dc_gtm_/, /^__qca$/, /^_ttp$/, /^_tt_enable_cookie$/, /^optimizely/, /^_vwo_/, /^_vis_opt_/,
  /^_lfa/, /^_mkto_trk$/, /^_li_/, /^li_(sugr|fat_id)$/, /^_rdt_uuid$/, /^_scid/, /^_pin_unauth$/,
]

export function isTrackingCookie(name: string): boolean {
  return TRACKING_COOKIE_PATTERNS.some((pattern) => pattern.test(name))
}
