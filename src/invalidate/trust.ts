/**
 * @module invalidate/trust
 * Who may purge, ban and ask for debug fields: callers from allowed networks (CIDRs, IPv4 and
 * IPv6; loopback by default) and/or callers presenting the bearer token (RFC 6750 §2.1),
 * compared in constant time. One guard for the proxy port's PURGE, the admin API and the
 * debug header, so the three can never disagree.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { BlockList, isIPv4, isIPv6 } from 'node:net'

export type TrustRequirement = 'address-or-token' | 'address-and-token'

export interface TrustSettings {
  /** CIDRs (or single addresses) whose callers are trusted */
  readonly allow: readonly string[]
  /** a bearer token that also grants trust (see `require`) */
  readonly token?: string
  readonly require: TrustRequirement
}

export type TrustVerdict = { ok: true } | { ok: false; status: 401 | 403; reason: string }

export const DEFAULT_TRUSTED_NETWORKS = ['127.0.0.0/8', '::1/128'] as const

/** Parses "10.0.0.0/8", "::1", "fd00::/8"; undefined when malformed. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText, extra] = text.trim().split('/')
  if (extra !== undefined) return undefined
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined
  if (!family) return undefined
  const max = family === 'ipv4' ? 32 : 128
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN
  if (!(prefix >= 0 && prefix <= max)) return undefined
  return { address, prefix, family }
}

/** An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d; it is matched as IPv4. */
function normaliseAddress(address: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return { address: mapped[1]!, family: 'ipv4' }
  if (isIPv4(address)) return { address, family: 'ipv4' }
  if (isIPv6(address)) return { address, family: 'ipv6' }
  return undefined
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

export class TrustGuard {
  private readonly networks = new BlockList()
  private readonly tokenDigest?: Buffer

  constructor(readonly settings: TrustSettings) {
    for (const cidr of settings.allow) {
      const parsed = parseCidr(cidr)
      if (!parsed) throw new RangeError(`trust.allow: ${JSON.stringify(cidr)} is not an address or CIDR`)
      this.networks.addSubnet(parsed.address, parsed.prefix, parsed.family)
    }
    if (settings.token !== undefined) this.tokenDigest = digest(settings.token)
  }

  isAllowedAddress(address: string | undefined): boolean {
    const normal = address === undefined ? undefined : normaliseAddress(address)
    return normal !== undefined && this.networks.check(normal.address, normal.family)
  }

  /** RFC 6750 §2.1: `Authorization: Bearer <token>`; both sides hashed, so lengths leak nothing. */
  hasToken(authorization: string | undefined): boolean {
    if (!this.tokenDigest || authorization === undefined) return false
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization)
    return m !== null && timingSafeEqual(digest(m[1]!), this.tokenDigest)
  }

  check(address: string | undefined, authorization: string | undefined): TrustVerdict {
    const fromAllowed = this.isAllowedAddress(address)
    const withToken = this.hasToken(authorization)
    if (this.settings.require === 'address-and-token') {
      if (fromAllowed && withToken) return { ok: true }
      if (!fromAllowed) return { ok: false, status: 403, reason: `${address ?? 'this address'} is not in trust.allow` }
      return { ok: false, status: 401, reason: 'a valid bearer token is required (Authorization: Bearer …)' }
    }
    if (fromAllowed || withToken) return { ok: true }
    if (authorization !== undefined && this.tokenDigest) return { ok: false, status: 403, reason: 'the bearer token is not valid' }
    return {
      ok: false, status: 403,
      reason: `${address ?? 'this address'} is not in trust.allow${this.tokenDigest ? ' and no bearer token was given' : ''}`,
    }
  }
}
