/**
 * @module
 * The OpenAI error body and the table of error kinds both sides use. Each side keeps its own error classes
 * and one translator; this file only fixes what goes on the wire, so a client sees the same `type`/`code`
 * whichever side refused the request.
 * Shape: openai-openapi `ErrorResponse` (all four keys always present).
 */

/** `{"error":{"message","type","param","code"}}`; `param` and `code` are `null` when they do not apply. */
export interface ErrorBody {
  error: {
    message: string
    type: string
    param: string | null
    code: string | null
  }
}

/**
 * Error kinds: HTTP status, OpenAI `type`, and the `code` we send. Clients branch on `code`
 * (openai-node exposes it as `err.code`), so these strings are part of the contract.
 */
/** A 400 `invalid_request_error` with its own code. */
const invalid = <Code extends string>(code: Code) =>
  ({ status: 400, type: 'invalid_request_error', code }) as const

export const ERROR_KINDS = {
  invalid_request: { status: 400, type: 'invalid_request_error', code: null },
  invalid_json: invalid('invalid_json'),
  // The request schema's three ways to fail, with the codes OpenAI gives them.
  missing_required_parameter: invalid('missing_required_parameter'),
  invalid_type: invalid('invalid_type'),
  invalid_value: invalid('invalid_value'),
  // An image part the edge could not read, or that is not a decodable image (OpenAI's codes).
  invalid_image_url: invalid('invalid_image_url'),
  invalid_image_format: invalid('invalid_image_format'),
  context_length_exceeded: invalid('context_length_exceeded'),
  unsupported_parameter: invalid('unsupported_parameter'),
  invalid_api_key: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key' },
  unauthorized_edge: { status: 401, type: 'authentication_error', code: 'unauthorized' },
  not_found: { status: 404, type: 'invalid_request_error', code: 'not_found' },
  model_not_found: { status: 404, type: 'invalid_request_error', code: 'model_not_found' },
  method_not_allowed: { status: 405, type: 'invalid_request_error', code: 'method_not_allowed' },
  payload_too_large: { status: 413, type: 'invalid_request_error', code: 'payload_too_large' },
  unsupported_media_type: {
    status: 415,
    type: 'invalid_request_error',
    code: 'unsupported_media_type',
  },
  rate_limit_exceeded: { status: 429, type: 'requests', code: 'rate_limit_exceeded' },
  // nginx's "client closed request": recorded and logged only, as no client is left to read it.
  client_closed: { status: 499, type: 'invalid_request_error', code: 'client_closed_request' },
  internal: { status: 500, type: 'server_error', code: 'internal_error' },
  upstream_error: { status: 502, type: 'server_error', code: 'upstream_error' },
  overloaded: { status: 503, type: 'server_error', code: 'overloaded' },
  no_capacity: { status: 503, type: 'server_error', code: 'no_gpu_node_available' },
  upstream_timeout: { status: 504, type: 'server_error', code: 'upstream_timeout' },
} as const satisfies Record<string, { status: number; type: string; code: string | null }>

export type ErrorKind = keyof typeof ERROR_KINDS

/**
 * Builds the wire body for an error kind.
 * @example errorBody('invalid_request', "'messages' must not be empty", 'messages')
 */
export function errorBody(
  kind: ErrorKind,
  message: string,
  param: string | null = null,
): ErrorBody {
  const { type, code } = ERROR_KINDS[kind]
  return { error: { message, type, param, code } }
}

/**
 * A value quoted in an error message, cut to `max` characters: an error body must not echo a whole
 * megabyte data URL back to a phone.
 * @example `got ${briefly(issue.received)}`
 */
export function briefly(text: string, max = 80): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`
}

/** True when `value` looks like an OpenAI error body (used on relayed node responses and SSE frames). */
export function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null || !('error' in value)) return false
  const error = (value as { error: unknown }).error
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { message?: unknown }).message === 'string'
  )
}
