/**
 * @module
 * The worker's one error hierarchy and its one translator. Code anywhere throws a `GatewayError`; only
 * `app.onError` turns it into a response (`toErrorResponse`), and only the relay turns it into an SSE frame
 * (`toErrorFrame`), so a client sees the same OpenAI body whether the error came before or after the first
 * byte. Kinds, statuses and codes come from `ERROR_KINDS` in shared/errors.ts.
 */
import { ERROR_KINDS } from '../shared/errors.ts'
import type { ErrorBody, ErrorKind } from '../shared/errors.ts'
import { encodeSSEData } from '../shared/sse.ts'

/** What goes on the wire besides the message: status, OpenAI `type` and `code`. */
export interface ErrorSpec {
  status: number
  type: string
  code: string | null
}

export interface GatewayErrorOptions {
  param?: string | null
  /** Extra response headers, e.g. `retry-after` or `allow`. */
  headers?: Record<string, string>
  cause?: unknown
}

/** Base class: every error the worker sends to a client is one of these. */
export class GatewayError extends Error {
  readonly status: number
  readonly type: string
  readonly code: string | null
  readonly param: string | null
  readonly headers: Record<string, string>

  constructor(spec: ErrorSpec | ErrorKind, message: string, options: GatewayErrorOptions = {}) {
    super(message, { cause: options.cause })
    const { status, type, code } = typeof spec === 'string' ? ERROR_KINDS[spec] : spec
    this.name = 'GatewayError'
    this.status = status
    this.type = type
    this.code = code
    this.param = options.param ?? null
    this.headers = options.headers ?? {}
  }

  /** The OpenAI error body for this error. */
  toBody(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } }
  }
}

type BadRequestKind =
  | 'invalid_request'
  | 'invalid_json'
  | 'unsupported_parameter'
  | 'context_length_exceeded'
  | 'missing_required_parameter'
  | 'invalid_type'
  | 'invalid_value'
  | 'invalid_image_url'
  | 'invalid_image_format'

export class BadRequestError extends GatewayError {
  constructor(
    message: string,
    param: string | null = null,
    kind: BadRequestKind = 'invalid_request',
  ) {
    super(kind, message, { param })
  }
}

export class AuthenticationError extends GatewayError {
  constructor(message: string) {
    super('invalid_api_key', message)
  }
}

export class NotFoundError extends GatewayError {
  constructor(
    message: string,
    kind: 'not_found' | 'model_not_found' = 'not_found',
    param?: string,
  ) {
    super(kind, message, { param: param ?? null })
  }
}

export class MethodNotAllowedError extends GatewayError {
  constructor(method: string, allowed: readonly string[]) {
    super('method_not_allowed', `Method ${method} is not allowed here.`, {
      headers: { allow: allowed.join(', ') },
    })
  }
}

export class PayloadTooLargeError extends GatewayError {
  constructor(limitBytes: number) {
    super('payload_too_large', `The request body exceeds ${limitBytes} bytes.`)
  }
}

export class UnsupportedMediaTypeError extends GatewayError {
  constructor() {
    super('unsupported_media_type', "The request body must be sent as 'application/json'.")
  }
}

/** 502: the GPU node could not be reached, refused the edge, or broke the protocol. */
export class UpstreamError extends GatewayError {
  constructor(message: string, options: Omit<GatewayErrorOptions, 'param'> = {}) {
    super('upstream_error', message, options)
  }
}

/** 499: the client went away before its answer was complete. */
export class ClientClosedError extends GatewayError {
  constructor(
    message = 'The client closed the request before the answer was complete.',
    cause?: unknown,
  ) {
    super('client_closed', message, { cause })
  }
}

export class InternalError extends GatewayError {
  constructor(cause?: unknown) {
    super('internal', 'The server had an error while processing your request.', { cause })
  }
}

/**
 * An OpenAI error body a GPU node sent (as its response or as a stream frame), relayed with the node's
 * status. The body fields are kept; missing `param`/`code` become `null` so all four keys are present.
 */
export class NodeReportedError extends GatewayError {
  constructor(status: number, body: ErrorBody, headers: Record<string, string> = {}) {
    const { message, type, param, code } = body.error
    super({ status, type: String(type), code: code ?? null }, message, {
      param: param ?? null,
      headers,
    })
  }
}

/**
 * The HTTP status for an error a node reported inside a stream (where it has no status of its own): the
 * status of the `ERROR_KINDS` entry with the same code, else 502.
 */
export function statusForNodeError(body: ErrorBody): number {
  const kind = Object.values(ERROR_KINDS).find((k) => k.code !== null && k.code === body.error.code)
  return kind?.status ?? ERROR_KINDS.upstream_error.status
}

/** Anything thrown becomes a `GatewayError`; unknown exceptions become a 500 without internals. */
export function toGatewayError(error: unknown): GatewayError {
  return error instanceof GatewayError ? error : new InternalError(error)
}

/**
 * The translator for responses: OpenAI body, status, the error's headers and the request id.
 * @example
 * app.onError((err, c) => toErrorResponse(err, c.get('requestId')))
 */
export function toErrorResponse(error: unknown, requestId: string | undefined): Response {
  const gatewayError = toGatewayError(error)
  const headers = new Headers(gatewayError.headers)
  headers.set('content-type', 'application/json')
  if (requestId) headers.set('x-request-id', requestId)
  return new Response(JSON.stringify(gatewayError.toBody()), {
    status: gatewayError.status,
    headers,
  })
}

/**
 * The translator for streams: after the first byte an error is a `data: {"error":…}` frame, which
 * openai-node raises as a typed `APIError`. The caller ends the stream with `data: [DONE]`.
 */
export function toErrorFrame(error: unknown): string {
  return encodeSSEData(toGatewayError(error).toBody())
}
