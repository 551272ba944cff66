/**
 * Unit tests for config/units: sizes and durations with human units.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseDuration, parseSize } from './units.js'

describe('parseSize', () => {
  test('every unit, powers of 1024', () => {
    assert.equal(parseSize('5b'), 5)
    assert.equal(parseSize('1k'), 1024)
    assert.equal(parseSize('1kb'), 1024)
    assert.equal(parseSize('1m'), 1024 ** 2)
    assert.equal(parseSize('256mb'), 268_435_456)
    assert.equal(parseSize('1g'), 1024 ** 3)
    assert.equal(parseSize('2gb'), 2 * 1024 ** 3)
  })

  test('a bare number is bytes', () => {
    assert.equal(parseSize('1024'), 1024)
    assert.equal(parseSize('0'), 0)
  })

  test('units are case-insensitive and spaces are allowed around and between', () => {
    assert.equal(parseSize('16 MB'), 16 * 1024 ** 2)
    assert.equal(parseSize(' 512Kb '), 512 * 1024)
  })

  test('fractions are allowed and rounded down to whole bytes', () => {
    assert.equal(parseSize('1.5kb'), 1536)
    assert.equal(parseSize('0.5m'), 524_288)
    assert.equal(parseSize('1.7'), 1)
  })

  test('numbers are bytes, rounded down', () => {
    assert.equal(parseSize(1024), 1024)
    assert.equal(parseSize(0), 0)
    assert.equal(parseSize(1.7), 1)
  })

  test('invalid numbers', () => {
    for (const n of [-1, NaN, Infinity, -Infinity]) assert.equal(parseSize(n), undefined, String(n))
  })

  test('invalid text', () => {
    for (const text of ['', ' ', 'abc', 'mb', '-5mb', '10tb', '10 bytes', '1,5mb', '1.mb', '.5mb', '5 m b', '0x10', '1e3']) {
      assert.equal(parseSize(text), undefined, JSON.stringify(text))
    }
  })
})

describe('parseDuration', () => {
  test('every unit', () => {
    assert.equal(parseDuration('250ms'), 250)
    assert.equal(parseDuration('10s'), 10_000)
    assert.equal(parseDuration('2m'), 120_000)
    assert.equal(parseDuration('1h'), 3_600_000)
    assert.equal(parseDuration('1d'), 86_400_000)
  })

  test('a bare number is milliseconds', () => {
    assert.equal(parseDuration('100'), 100)
    assert.equal(parseDuration('0'), 0)
  })

  test('units are case-insensitive and spaces are allowed', () => {
    assert.equal(parseDuration('10S'), 10_000)
    assert.equal(parseDuration(' 5 s '), 5000)
    assert.equal(parseDuration('250MS'), 250)
  })

  test('fractions are allowed', () => {
    assert.equal(parseDuration('1.5s'), 1500)
    assert.equal(parseDuration('0.5m'), 30_000)
  })

  test('numbers are milliseconds', () => {
    assert.equal(parseDuration(100), 100)
    assert.equal(parseDuration(1.5), 1.5)
    assert.equal(parseDuration(0), 0)
  })

  test('invalid numbers', () => {
    for (const n of [-1, NaN, Infinity]) assert.equal(parseDuration(n), undefined, String(n))
  })

  test('invalid text', () => {
    for (const text of ['', 'soon', 's', '-1s', '10x', '10 sec', '1y', '1w', '10mb', '1.s']) {
      assert.equal(parseDuration(text), undefined, JSON.stringify(text))
    }
  })
})
