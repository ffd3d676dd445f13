/**
 * @module
 * One attempt to open a chat stream on one GPU node: a signed POST (shared/signing.ts) that asks for
 * continuous usage, bounded by a time limit for the node's response headers. The result says whether the
 * router may try another node: only when nothing reached the node's engine (connect failure, timeout, 503,
 * or a node that refused the edge's signature).
 * Everything here happens before the first byte reaches the client, so failures are still plain HTTP
 * errors; after that the relay turns them into frames.
 */
import { isErrorBody } from '../../shared/errors.ts'
import { NODE_HEADERS } from '../../shared/protocol.ts'
import { signRequest } from '../../shared/signing.ts'
import { GatewayError, NodeReportedError, UpstreamError } from '../errors.ts'
import type { NodeAddress } from './fleet-config.ts'

/** Node headers that tell an OpenAI client when to retry (openai-node reads `retry-after-ms` first). */
const RETRY_HEADERS = ['retry-after', 'retry-after-ms'] as const

/** When no node can be reached: a short, explicit wait so SDK retries do not hammer a dead fleet. */
export const UNREACHABLE_RETRY = { 'retry-after': '1', 'retry-after-ms': '1000' }

const CHAT_PATH = '/v1/chat/completions'

export interface NodeRequest {
  node: NodeAddress
  /** The JSON body as it goes to the node (always `stream: true`). */
  body: string
  /** Signs the request; `undefined` when none is configured (then no node is called: 502). */
  secret: string | undefined
  requestId: string
  tenantId: string
  /** The client's request signal: a gone client cancels the node's work. */
  signal: AbortSignal
  /** How long the node may take to answer with headers. */
  timeoutMs: number
}

/**
 * `stream`: the node accepted. Otherwise `error` is what the client gets if no other node does, and
 * `retry` says whether another node may be tried; `working` (the node answered as a node should, whatever
 * it answered) feeds the node's circuit breaker.
 */
export type AttemptOutcome =
  | { ok: true; stream: ReadableStream<Uint8Array> }
  | { ok: false; error: GatewayError; retry: boolean; working: boolean }

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
    // The node refused our signature: the edge is misconfigured (secret, clock), not the client.
    // Never log the secret.
    console.error(
      JSON.stringify({
        msg: 'gpu node rejected the edge signature (check GPU_NODE_SECRET and clocks)',
        request_id: request.requestId,
        node: request.node.id,
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

/** A fetch whose time limit covers the response headers only: the body then streams for as long as needed. */
async function fetchHeaders(url: string, init: RequestInit, request: NodeRequest) {
  const controller = new AbortController()
  const abort = () => controller.abort()
  request.signal.addEventListener('abort', abort, { once: true })
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort()
  }, request.timeoutMs)
  try {
    return { response: await fetch(url, { ...init, signal: controller.signal }), timedOut }
  } catch (cause) {
    return { cause, timedOut }
  } finally {
    clearTimeout(timer)
  }
}

/**
 * POSTs to the node's `/v1/chat/completions`, signed, and reports how the attempt went.
 * @example
 * const attempt = await openNodeStream({ node, body, secret, requestId, tenantId, signal, timeoutMs })
 */
export async function openNodeStream(request: NodeRequest): Promise<AttemptOutcome> {
  if (!request.secret) {
    // Misconfigured edge: nothing to sign with, so no node would accept. Say so in the log only.
    console.error(JSON.stringify({ msg: 'GPU_NODE_SECRET is not set', node: request.node.id }))
    const error = new UpstreamError('The gateway cannot reach its GPU nodes.')
    return { ok: false, error, retry: false, working: true }
  }
  const signature = await signRequest({
    method: 'POST',
    path: new URL(`${request.node.url}${CHAT_PATH}`).pathname,
    body: request.body,
    secret: request.secret,
  })
  const { response, cause, timedOut } = await fetchHeaders(
    `${request.node.url}${CHAT_PATH}`,
    {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        ...signature,
        [NODE_HEADERS.requestId]: request.requestId,
        [NODE_HEADERS.tenant]: request.tenantId,
        [NODE_HEADERS.continuousUsage]: '1',
      },
      body: request.body,
    },
    request,
  )
  if (!response) {
    const error = timedOut
      ? new GatewayError('upstream_timeout', 'The GPU node did not answer in time.', {
          headers: UNREACHABLE_RETRY,
          cause,
        })
      : new UpstreamError('The GPU node could not be reached.', {
          headers: UNREACHABLE_RETRY,
          cause,
        })
    return { ok: false, error, retry: !request.signal.aborted, working: false }
  }
  if (!response.ok) {
    // A node that refuses the edge's signature (a secret rotated on one side only) ran nothing: another
    // may serve the request, and the refusal counts against the node, so its breaker takes it out of the
    // rotation instead of it failing its share of the traffic, quickly and so looking the least loaded.
    const misconfigured = response.status === 401
    const retry = response.status === 503 || misconfigured
    return { ok: false, error: await refusal(response, request), retry, working: !misconfigured }
  }
  const type = response.headers.get('content-type') ?? ''
  if (!response.body || !type.startsWith('text/event-stream')) {
    await response.body?.cancel()
    const error = new UpstreamError('The GPU node did not answer with an event stream.')
    return { ok: false, error, retry: false, working: true }
  }
  return { ok: true, stream: response.body }
}
