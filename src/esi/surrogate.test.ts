import assert from 'node:assert/strict'
import { test } from 'node:test'
import { chooseCoding } from './deliver.js'
import { asksForEsi, surrogateCapability, surrogateDirectives } from './surrogate.js'

const sc = (...lines: string[]) => lines.map((l) => ['surrogate-control', l] as [string, string])

test('Surrogate-Control: untargeted and ;lacquer directives apply, other devices\' do not (Edge Architecture §3)', () => {
  assert.equal(asksForEsi(sc('content="ESI/1.0"')), true)
  assert.equal(asksForEsi(sc('max-age=60, content="ESI/1.0 ESI-Inline/1.0"')), true)
  assert.equal(asksForEsi(sc('content="ESI/1.0";lacquer')), true)
  assert.equal(asksForEsi(sc('content="ESI/1.0";akamai')), false)
  assert.equal(asksForEsi(sc('content="ESI-Inline/1.0"')), false)
  assert.equal(asksForEsi(sc('no-store')), false)
  assert.equal(asksForEsi([]), false)
  assert.equal(asksForEsi(sc('max-age=1', 'content="esi/1.0"')), true)
  // a targeted directive beats the untargeted one of the same name
  assert.equal(surrogateDirectives(sc('max-age=10, max-age=60;lacquer')).get('max-age'), '60')
  assert.equal(surrogateDirectives(sc('max-age=60;lacquer, max-age=10')).get('max-age'), '60')
})

test('Surrogate-Capability: a downstream surrogate\'s capability first, then Lacquer\'s', () => {
  assert.equal(surrogateCapability([]), 'lacquer="ESI/1.0"')
  assert.equal(surrogateCapability([['surrogate-capability', 'cdn="ESI/1.0"']]), 'cdn="ESI/1.0", lacquer="ESI/1.0"')
})

test('the assembled page\'s coding: br or gzip by the client\'s weights (RFC 9110 §12.5.3), else identity', () => {
  const ae = (v: string) => [['accept-encoding', v] as [string, string]]
  assert.equal(chooseCoding(ae('gzip, deflate, br')), 'br')
  assert.equal(chooseCoding(ae('gzip')), 'gzip')
  assert.equal(chooseCoding(ae('br;q=0, gzip;q=0.5')), 'gzip')
  assert.equal(chooseCoding(ae('gzip;q=0.2, br;q=0.1')), 'gzip')
  assert.equal(chooseCoding(ae('identity')), undefined)
  assert.equal(chooseCoding(ae('*')), 'br')
  assert.equal(chooseCoding(ae('*;q=0')), undefined)
  assert.equal(chooseCoding([]), undefined)
})
