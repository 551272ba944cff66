/**
 * @module demo/demo
 * `lacquer demo`: the sample shop (demo/site) and a Lacquer in front of it, configured as a
 * shop would be (pages shared, the user's header per user, the stock never cached), with the
 * URLs to try.
 */
import type { AddressInfo } from 'node:net'
import { parseListenAddress } from '../config/resolve.js'
import { LacquerError } from '../errors.js'
import { type ProxyOptions, createProxy } from '../index.js'
import type { Logger } from '../observe/logger.js'
import { createDemoSite } from './site.js'

export interface DemoOptions {
  listen: string
  admin: string
  originListen: string
  logger: Logger
}

/** How a shop runs Lacquer: the rules the demo shows (docs/esi.md walks through them). */
export const DEMO_CONFIG: Omit<ProxyOptions, 'origin'> = {
  rules: [
    // the same page for everybody: cookies dropped from its request (its fragments still get them)
    { name: 'shop pages', match: { path: ['/', '/products/*'] }, cache: true },
    // the header: one cached copy per signed-in user, keyed by an HMAC of the session cookie
    { name: 'user header', match: { path: '/fragments/header' }, perUser: { cookie: 'session' } },
  ],
  // the cart cookie only versions the header's URL ($(HTTP_COOKIE{cart})): it never makes a request a user's
  cookies: { ignore: ['cart'] },
}

export async function startDemo(options: DemoOptions) {
  const site = createDemoSite()
  const at = parseListenAddress('origin-listen', options.originListen)
  await new Promise<void>((resolve, reject) => {
    site.once('error', (err: NodeJS.ErrnoException) => reject(new LacquerError('ERR_SERVER_LISTEN',
      `origin-listen: ${err.code === 'EADDRINUSE' ? `${at.host}:${at.port} is already in use; pass --origin-listen with another port` : err.message}`)))
    site.listen(at.port, at.host, resolve)
  })
  const siteAddress = site.address() as AddressInfo
  const origin = `http://${siteAddress.address}:${siteAddress.port}`
  const proxy = createProxy({ ...DEMO_CONFIG, origin, listen: options.listen, admin: options.admin }, undefined, { logger: options.logger })
  let urls
  try {
    urls = await proxy.listen()
  } catch (err) {
    site.close()
    throw err
  }
  site.adminUrl = urls.adminUrl ?? undefined
  const u = urls.url
  const banner = `Lacquer demo: a small shop
  site through Lacquer: ${u}/
  the site directly:    ${origin}/
  what was cached:      ${u}/report
  admin:                ${urls.adminUrl ?? '(off)'}/stats
  live dashboard:       ${urls.adminUrl ?? '(off)'}/   (or: npx lacquer stat --admin ${urls.adminUrl?.replace('http://', '') ?? '-'})

Try:
  curl -si ${u}/products/1 | grep -iE 'cache-status|signed|stock'      # twice: the page is a hit, the stock is live
  curl -s -c /tmp/jar '${u}/login?user=alice' >/dev/null                  # a session cookie for alice
  curl -s -b /tmp/jar ${u}/products/1 | grep -iE 'signed|stock'          # alice's header (cached for her alone)
  curl -s -b /tmp/jar -c /tmp/jar -X POST '${u}/cart/add?id=1' | grep -i cart
  curl -s -b /tmp/jar ${u}/products/1 | grep -iE 'signed'                 # cart: 1 item
  curl -s ${urls.adminUrl ?? ''}/esi                                     # each fragment's Cache-Status
Ctrl-C stops both.
`
  return {
    banner,
    url: u,
    adminUrl: urls.adminUrl,
    originUrl: origin,
    async close() {
      await proxy.close()
      await new Promise<void>((resolve) => { site.close(() => resolve()); site.closeAllConnections() })
    },
  }
}
