/**
 * Unit tests for http-cache/vary: secondary cache keys (RFC 9111 §4.1).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { normalisedFieldValue, parseVary, selectingValues, varyMatches } from './vary.js'

describe('parseVary', () => {
  test('no Vary gives no names', () => {
    assert.deepEqual(parseVary([]), [])
    assert.deepEqual(parseVary([['vary', '']]), [])
  })

  test('names are lower-cased and trimmed', () => {
    assert.deepEqual(parseVary([['vary', 'Accept-Encoding']]), ['accept-encoding'])
    assert.deepEqual(parseVary([['vary', ' Accept-Encoding ,  User-Agent ']]), ['accept-encoding', 'user-agent'])
  })

  test('names from every line, in order, without duplicates', () => {
    assert.deepEqual(parseVary([['vary', 'Accept-Encoding, Accept'], ['vary', 'accept-encoding, Accept-Language']]),
      ['accept-encoding', 'accept', 'accept-language'])
  })

  test('empty list members are skipped', () => {
    assert.deepEqual(parseVary([['vary', ', ,Accept,,']]), ['accept'])
  })

  test('* in any position gives *', () => {
    assert.equal(parseVary([['vary', '*']]), '*')
    assert.equal(parseVary([['vary', 'Accept, *']]), '*')
    assert.equal(parseVary([['vary', '*, Accept']]), '*')
    assert.equal(parseVary([['vary', 'Accept, * , Cookie']]), '*')
    assert.equal(parseVary([['vary', 'Accept'], ['vary', '*']]), '*')
  })

  test('only the vary field is read', () => {
    assert.deepEqual(parseVary([['x-vary', '*'], ['accept', 'text/html']]), [])
  })
})

describe('normalisedFieldValue', () => {
  test('an absent field is null, distinct from an empty one', () => {
    assert.equal(normalisedFieldValue([], 'accept-encoding'), null)
    assert.equal(normalisedFieldValue([['accept-encoding', '']], 'accept-encoding'), '')
  })

  test('whitespace around list members is removed', () => {
    assert.equal(normalisedFieldValue([['accept-encoding', 'gzip, br']], 'accept-encoding'), 'gzip,br')
    assert.equal(normalisedFieldValue([['accept-encoding', ' gzip ,\tbr ']], 'accept-encoding'), 'gzip,br')
  })

  test('several lines are combined like one', () => {
    assert.equal(normalisedFieldValue([['accept-encoding', 'gzip'], ['accept-encoding', 'br']], 'accept-encoding'), 'gzip,br')
  })

  test('the order of members is kept for ordinary fields', () => {
    assert.equal(normalisedFieldValue([['accept-encoding', 'br, gzip']], 'accept-encoding'), 'br,gzip')
  })

  test('values are otherwise case-sensitive', () => {
    assert.equal(normalisedFieldValue([['x-device', 'Mobile']], 'x-device'), 'Mobile')
  })

  test('whitespace inside a member is kept: it can change the meaning', () => {
    // only whitespace *around* list members is insignificant (RFC 9110 §5.6.1); "smart phone" and
    // "smartphone" are different values and must not select each other's response
    assert.equal(normalisedFieldValue([['x-device', 'smart phone']], 'x-device'), 'smart phone')
    assert.equal(varyMatches(['x-device'], ['smartphone'], [['x-device', 'smart phone']]), false)
  })

  test('Accept-Language members are lower-cased (language tags are case-insensitive)', () => {
    assert.equal(normalisedFieldValue([['accept-language', 'EN-us']], 'accept-language'), 'en-us')
    assert.equal(varyMatches(['accept-language'], [normalisedFieldValue([['accept-language', 'en-US']], 'accept-language')],
      [['accept-language', 'EN-US']]), true)
  })

  test('Accept-Language without q-values keeps its order: it states the user\'s preference', () => {
    // RFC 9110 §12.5.4: recipients treat the order of equally weighted tags as descending priority,
    // so "fr, en" and "en, fr" can select different representations
    const fr = normalisedFieldValue([['accept-language', 'fr, en']], 'accept-language')
    const en = normalisedFieldValue([['accept-language', 'en, fr']], 'accept-language')
    assert.notEqual(fr, en)
    assert.equal(varyMatches(['accept-language'], [fr], [['accept-language', 'en, fr']]), false)
  })

  test('Accept-Language drops empty members', () => {
    assert.equal(normalisedFieldValue([['accept-language', 'en,,fr;q=0.5']], 'accept-language'), 'en,fr;q=0.5')
  })
})

describe('selectingValues', () => {
  test('values in the order of the names, null for absent fields', () => {
    const request: Array<[string, string]> = [['accept-language', 'en'], ['accept-encoding', 'gzip, br']]
    assert.deepEqual(selectingValues(request, ['accept-encoding', 'cookie', 'accept-language']), ['gzip,br', null, 'en'])
    assert.deepEqual(selectingValues(request, []), [])
  })
})

describe('varyMatches', () => {
  test('no selecting fields always matches', () => {
    assert.equal(varyMatches([], [], [['accept-encoding', 'gzip']]), true)
  })

  test('equal normalised values match', () => {
    assert.equal(varyMatches(['accept-encoding'], ['gzip,br'], [['accept-encoding', 'gzip, br']]), true)
    assert.equal(varyMatches(['accept-encoding'], ['gzip,br'], [['accept-encoding', 'gzip'], ['accept-encoding', 'br']]), true)
  })

  test('different values do not match', () => {
    assert.equal(varyMatches(['accept-encoding'], ['gzip'], [['accept-encoding', 'br']]), false)
    assert.equal(varyMatches(['accept-encoding'], ['gzip'], [['accept-encoding', 'GZIP']]), false)
  })

  test('absent matches only absent', () => {
    assert.equal(varyMatches(['cookie'], [null], []), true)
    assert.equal(varyMatches(['cookie'], [null], [['cookie', 'a=1']]), false)
    assert.equal(varyMatches(['cookie'], ['a=1'], []), false)
    assert.equal(varyMatches(['cookie'], [''], []), false)
  })

  test('every selecting field must match', () => {
    const names = ['accept-encoding', 'accept-language']
    assert.equal(varyMatches(names, ['gzip', 'en'], [['accept-encoding', 'gzip'], ['accept-language', 'en']]), true)
    assert.equal(varyMatches(names, ['gzip', 'en'], [['accept-encoding', 'gzip'], ['accept-language', 'fr']]), false)
    assert.equal(varyMatches(names, ['gzip', 'en'], [['accept-encoding', 'gzip']]), false)
  })

  test('fields the response does not vary on are ignored', () => {
    assert.equal(varyMatches(['accept-encoding'], ['gzip'], [['accept-encoding', 'gzip'], ['cookie', 'x=1'], ['user-agent', 'y']]), true)
  })
})
