/**
 * @module
 * Sends a chat request to a GPU node and returns its SSE body, or throws the `GatewayError` the client should
 * see. Everything here happens before the first byte reaches the client, so failures are still plain HTTP
 * errors; after that the relay turns them into frames.
 */
import { isErrorBody } from '../../shared/errors.ts'
import { NODE_HEADERS } from '../../shared/protocol.ts'
import { GatewayError, NodeReportedError, UpstreamError } from '../errors.ts'
import type { GpuNode } from './node-pool.ts'

/** Node headers that tell an OpenAI client when to retry (openai-node reads `retry-after-ms` first). */
const RETRY_HEADERS = ['retry-after', 'retry-after-ms'] as const

/** When the node cannot be reached: a short, explicit wait so SDK retries do not hammer a dead node. */
const UNREACHABLE_RETRY = { 'retry-after': '1', 'retry-after-ms': '1000' }

export interface NodeRequest {
  node: GpuNode
  /** The JSON body as it goes to the node (always `stream: true`). */
  body: Record<string, unknown>
  secret: string | undefined
  requestId: string
  tenantId: string
  /** The client's request signal: a gone client cancels the node's work. */
  signal: AbortSignal
}

function retryHeaders(response: Response): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const name of RETRY_HEADERS) {
    const value = response.headers.get(name)
    if (value !== null) headers[name] = value
  }
  return headers
}

async function readErrorBody(response: Response) {
  try {
    const body: unknown = JSON.parse(await response.text())
    return isErrorBody(body) ? body : null
  } catch {
    return null
  }
}

/** Maps a non-2xx node response to what the client gets (see the routing rules in the worker brief). */
async function refusal(response: Response, request: NodeRequest): Promise<GatewayError> {
  const { status } = response
  const body = await readErrorBody(response)
  if (status === 401) {
    // The node refused our shared secret: the edge is misconfigured, not the client. Never log the secret.
    console.error(
      JSON.stringify({
        msg: 'gpu node rejected the edge secret (check GPU_NODE_SECRET)',
        request_id: request.requestId,
        node: request.node.index,
      }),
    )
    return new UpstreamError('The GPU node refused the gateway.')
  }
  if (status === 429 || status === 503) {
    const headers = retryHeaders(response)
    if (body) return new NodeReportedError(status, body, headers)
    const kind = status === 429 ? 'rate_limit_exceeded' : 'overloaded'
    return new GatewayError(kind, 'The GPU node is busy; retry later.', { headers })
  }
  if (status >= 400 && status < 500 && body) return new NodeReportedError(status, body)
  return new UpstreamError(`The GPU node answered with HTTP ${status}.`)
}

/**
 * POSTs to the node's `/v1/chat/completions` and returns the SSE body once the node has accepted.
 * @example
 * const sse = await openNodeStream({ node, body, secret, requestId, tenantId, signal: c.req.raw.signal })
 */
export async function openNodeStream(request: NodeRequest): Promise<ReadableStream<Uint8Array>> {
  let response: Response
  try {
    response = await fetch(`${request.node.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        [NODE_HEADERS.authorization]: `Bearer ${request.secret ?? ''}`,
        [NODE_HEADERS.requestId]: request.requestId,
        [NODE_HEADERS.tenant]: request.tenantId,
      },
      body: JSON.stringify(request.body),
      signal: request.signal,
    })
  } catch (cause) {
    throw new UpstreamError('The GPU node could not be reached.', {
      headers: UNREACHABLE_RETRY,
      cause,
    })
  }
  if (!response.ok) throw await refusal(response, request)
  const type = response.headers.get('content-type') ?? ''
  if (!response.body || !type.startsWith('text/event-stream')) {
    await response.body?.cancel()
    throw new UpstreamError('The GPU node did not answer with an event stream.')
  }
  return response.body
}
