/**
 * @module
 * The GPU node's error hierarchy and its one translator to the OpenAI error body, as a response before the
 * stream starts or as an SSE frame after. Nothing else builds error bodies on this side.
 */
import { errorBody, ERROR_KINDS } from '../../shared/errors.ts'
import type { ErrorBody, ErrorKind } from '../../shared/errors.ts'
import { encodeSSEData } from '../../shared/sse.ts'

export class NodeError extends Error {
  override name = 'NodeError'
  readonly kind: ErrorKind
  readonly param: string | null
  readonly headers: Record<string, string>
  constructor(
    kind: ErrorKind,
    message: string,
    options: { param?: string | null; headers?: Record<string, string> } = {},
  ) {
    super(message)
    this.kind = kind
    this.param = options.param ?? null
    this.headers = options.headers ?? {}
  }

  get status(): number {
    return ERROR_KINDS[this.kind].status
  }
}

/** Anything thrown becomes a NodeError; unknown errors become a 500 without internals. */
export function asNodeError(error: unknown): NodeError {
  if (error instanceof NodeError) return error
  return new NodeError('internal', 'The GPU node failed while generating. The error was logged.')
}

export function toErrorBody(error: NodeError): ErrorBody {
  return errorBody(error.kind, error.message, error.param)
}

export function toErrorResponse(error: NodeError, requestId: string | null): Response {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...error.headers }
  if (requestId) headers['x-request-id'] = requestId
  return new Response(JSON.stringify(toErrorBody(error)), { status: error.status, headers })
}

/** After the first byte: an error frame the OpenAI clients raise as `APIError`. */
export function toErrorFrame(error: NodeError): string {
  return encodeSSEData(toErrorBody(error))
}
