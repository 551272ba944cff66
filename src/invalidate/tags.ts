/**
 * @module invalidate/tags
 * Surrogate keys (tags) a response carries, for purging by tag: `Surrogate-Key` (Fastly,
 * space-separated), `Cache-Tag` (Cloudflare, comma-separated) and `xkey` (Varnish's vmod,
 * space-separated); the names are configurable. The fields are internal: they are stored with
 * the object, indexed, and stripped before delivery unless a trusted caller asks to see them.
 */
import type { ReadonlyHeaderList } from '../http-cache/header-list.js'

export const DEFAULT_TAG_HEADERS = ['surrogate-key', 'cache-tag', 'xkey'] as const
/** More tags than this on one response are ignored (and logged), so one response cannot bloat the index. */
export const MAX_TAGS_PER_OBJECT = 1000
export const MAX_TAG_LENGTH = 512

/** Tags from the response's tag fields plus those a rule adds; deduplicated, bounded. */
export function collectTags(
  headers: ReadonlyHeaderList, tagHeaders: ReadonlySet<string>, ruleTags: readonly string[] | undefined,
): { tags: string[]; dropped: number } {
  const tags = new Set<string>(ruleTags)
  let dropped = 0
  for (const [name, value] of headers) {
    if (!tagHeaders.has(name)) continue
    for (const tag of value.split(/[\s,]+/)) {
      if (tag === '') continue
      if (tag.length > MAX_TAG_LENGTH || tags.size >= MAX_TAGS_PER_OBJECT) dropped++
      else tags.add(tag)
    }
  }
  return { tags: [...tags], dropped }
}
