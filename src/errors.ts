/**
 * @module errors
 * The one catalog of Lacquer's error codes (`ERR_<AREA>_<WHAT>`). The key equals the code;
 * `statusCode` is what a client sees when the error ends its request. docs/errors.md is
 * checked against this catalog by a test.
 */

export const ERRORS = {
  ERR_HTTP_BAD_REQUEST: { statusCode: 400, message: 'malformed request' },
  ERR_HTTP_HEADERS_TOO_LARGE: { statusCode: 431, message: 'request header fields too large or too many' },
  ERR_HTTP_BAD_HOST: { statusCode: 400, message: 'missing, repeated or malformed Host header' },
  ERR_HTTP_URI_TOO_LONG: { statusCode: 414, message: 'request target too long' },
  ERR_HTTP_REQUEST_TIMEOUT: { statusCode: 408, message: 'the request was not received in time' },
  ERR_HTTP_EXPECTATION_FAILED: { statusCode: 417, message: 'expectation not supported' },
  ERR_HTTP_METHOD_NOT_IMPLEMENTED: { statusCode: 501, message: 'request method not recognised (to invalidate, use PURGE or the admin API)' },
  ERR_HTTP_CODING_NOT_IMPLEMENTED: { statusCode: 501, message: 'request transfer coding not implemented (only chunked is)' },
  ERR_HTTP_VERSION_NOT_SUPPORTED: { statusCode: 505, message: 'HTTP version not supported (HTTP/1.0 and HTTP/1.1 are)' },
  ERR_ORIGIN_UNREACHABLE: { statusCode: 502, message: 'origin refused or reset the connection' },
  ERR_ORIGIN_TIMEOUT: { statusCode: 504, message: 'origin did not answer in time' },
  ERR_ORIGIN_BAD_RESPONSE: { statusCode: 502, message: 'origin sent an invalid HTTP response' },
  ERR_ORIGIN_INCOMPLETE_BODY: { statusCode: 502, message: 'origin body ended early or was malformed' },
  ERR_ESI_INCLUDE_FAILED: { statusCode: 502, message: 'an ESI include failed outside any esi:try and without onerror="continue"' },
  ERR_ORIGIN_ALL_SICK: { statusCode: 503, message: 'no healthy origin: every origin failed its health probe' },
  ERR_ORIGIN_QUEUE_FULL: { statusCode: 503, message: 'the origin\'s connections and queue are full' },
  ERR_ORIGIN_TOO_MANY_WAITERS: { statusCode: 503, message: 'too many requests already wait for this object' },
  ERR_ORIGIN_WAIT_TIMEOUT: { statusCode: 503, message: 'the origin fetch this request waited for took too long' },
  ERR_ESI_TOO_LARGE: { statusCode: 502, message: 'an ESI page is larger than the object size limit' },
  ERR_ESI_BAD_DOCUMENT: { statusCode: 502, message: 'a stored ESI document could not be read' },
  ERR_CONFIG_INVALID: { statusCode: 500, message: 'invalid configuration' },
  ERR_SERVER_LISTEN: { statusCode: 500, message: 'cannot listen on the configured address' },
} as const

export type ErrorCode = keyof typeof ERRORS

/**
 * Errors that mean "come back soon" (load shedding): their 503 carries `Retry-After` with
 * this many seconds (RFC 9110 §10.2.3).
 */
export const RETRY_AFTER_SECONDS: Partial<Record<ErrorCode, number>> = {
  ERR_ORIGIN_ALL_SICK: 5,
  ERR_ORIGIN_QUEUE_FULL: 1,
  ERR_ORIGIN_TOO_MANY_WAITERS: 1,
  ERR_ORIGIN_WAIT_TIMEOUT: 1,
}

export class LacquerError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number
  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${ERRORS[code].message}: ${detail}` : ERRORS[code].message, options)
    this.name = 'LacquerError'
    this.code = code
    this.statusCode = ERRORS[code].statusCode
  }
}
