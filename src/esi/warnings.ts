/**
 * @module esi/warnings
 * The one catalog of ESI warning codes: what the parser (at store time) and the planner (at
 * delivery) report about malformed or limited ESI instead of throwing. Each warning carries a
 * code from here, a message naming the element, and the byte offset in the document.
 * docs/esi.md is generated from this catalog (`npm run docs:gen`).
 */

export const ESI_WARNINGS = {
  'unknown-element': 'an `esi:` element ESI 1.0 does not define (or not lower-case, §3): its tags are dropped, its content kept',
  'unsupported-element': '`esi:inline` (§3.2, optional) is not supported: its tags are dropped, its content kept in place',
  'malformed-tag': 'an `<esi:` or `</esi:` tag without a closing `>` within the tag size limit: kept as text',
  'bad-attribute': 'an attribute without `=` or without quotes, or repeated (the first wins)',
  'unknown-attribute': 'an attribute the element does not define: ignored',
  'missing-attribute': '`esi:include` without `src` (dropped) or `esi:when` without `test` (false)',
  'bad-onerror': '`onerror` other than `continue` (§3.1): ignored',
  'empty-element-form': '`esi:include`/`esi:comment` written with an end tag or without `/>` (§3.1, §3.5): accepted',
  'unclosed-element': 'an element still open at its parent\'s end tag or at the end of the document: closed there',
  'stray-end-tag': 'an end tag with no open element of that name: dropped',
  'misplaced-element': '`attempt`/`except` outside `try`, `when`/`otherwise` outside `choose`, or content directly inside `try`/`choose` (§3.3, §3.4)',
  'invalid-structure': '`try` without `attempt` or `except`, `choose` without `when`, or a repeated `attempt`/`except`/`otherwise`',
  'bad-expression': 'a `test` expression that does not parse (§5): the `when` is false',
  'bad-variable': 'an unknown variable or a key on a variable without substructure (§4): it is empty',
  'too-deep': 'an element nested deeper than `maxNestingDepth`: dropped with its content',
  'too-many-includes': 'more includes than `maxIncludes`: the extra includes are refused (they fail)',
  'bad-include-url': 'an include `src`/`alt` that is not a valid URL after substitution: that URL fails',
  'unclosed-comment': 'an HTML comment or CDATA section without its end: ESI markup after it was not processed',
  'too-many-warnings': 'more warnings than `maxWarnings`: the rest are counted, not listed',
} as const

export type EsiWarningCode = keyof typeof ESI_WARNINGS

export interface EsiWarning {
  code: EsiWarningCode
  message: string
  /** Byte offset in the document (the start of the tag concerned). */
  offset: number
}
