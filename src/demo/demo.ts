/**
 * @module demo/demo
 * `lacquer demo`: the sample site and a Lacquer in front of it, with the URLs to try.
 */
import type { AddressInfo } from 'node:net'
import { parseListenAddress } from '../config/resolve.js'
import { LacquerError } from '../errors.js'
import { createProxy } from '../index.js'
import type { Logger } from '../observe/logger.js'
import { createDemoSite } from './site.js'

export interface DemoOptions {
  listen: string
  admin: string
  originListen: string
  logger: Logger
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
  const proxy = createProxy({ origin, listen: options.listen, admin: options.admin }, undefined, { logger: options.logger })
  let urls
  try {
    urls = await proxy.listen()
  } catch (err) {
    site.close()
    throw err
  }
  const u = urls.url
  const banner = `Lacquer demo
  site through Lacquer: ${u}/
  the site directly:    ${origin}/
  admin:                ${urls.adminUrl ?? '(off)'}/stats

Try:
  curl -si ${u}/cached | grep -i -E 'cache-status|age'     # twice: the second is a hit
  curl -si ${u}/login  | grep -i -E 'cache-status|set-cookie'
  curl -si -H 'Accept-Language: fr' ${u}/vary | grep -i cache-status
  curl -s ${urls.adminUrl ?? ''}/stats
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
