/**
 * @module
 * `POST /v1/chat/completions` on a GPU node: parse (the shared validator), prepare the prompt, run it on the
 * engine, and answer as an SSE stream or one JSON completion. A client that disconnects cancels its
 * sequence; after the first byte, errors become an SSE error frame followed by `[DONE]`. When the edge
 * sends `x-gemma-continuous-usage: 1`, every streamed chunk carries the usage so far, so a stream that
 * breaks can still be charged exactly.
 */
import type { Context } from 'hono'
import { stream } from 'hono/streaming'
import { parseChatRequest } from '../../shared/chat-request.ts'
import type { ChatRequest } from '../../shared/chat-request.ts'
import { NODE_HEADERS } from '../../shared/protocol.ts'
import { encodeSSEComment, encodeSSEData, SSE_DONE } from '../../shared/sse.ts'
import { EngineOverloadedError } from '../engine/engine.ts'
import type { Engine, GenerationEvent } from '../engine/engine.ts'
import type { GenerationUsage } from '../engine/output-channel.ts'
import { usageOf } from '../engine/sequence.ts'
import { asNodeError, NodeError, toErrorFrame } from './errors.ts'
import { keepAlive } from './keep-alive.ts'
import { chunk, completion, newIdentity, usageChunk } from './openai-responses.ts'
import type { ResponseIdentity } from './openai-responses.ts'
import { prepareGeneration } from './prepare-generation.ts'
import type { PrepareContext } from './prepare-generation.ts'

export interface ChatRouteDeps extends PrepareContext {
  engine: Engine
  /** The model id this node answers to (compared case-insensitively). */
  modelId: string
  systemFingerprint: string
  /** Silence after which a stream gets a `: keep-alive` comment. */
  keepAliveMs: number
}

export const chatCompletions = (deps: ChatRouteDeps) =>
  async function chatCompletions(c: Context): Promise<Response> {
    const request = await readRequest(c, deps.modelId)
    const identity = {
      requestId: c.get('requestId') as string,
      tenant: c.req.header(NODE_HEADERS.tenant) ?? 'anonymous',
      priority: readPriority(c.req.header(NODE_HEADERS.priority)),
    }
    // Listened for before the prompt is prepared (media decoding takes a while): a client that leaves
    // meanwhile has its sequence cancelled as soon as it is queued.
    const cancel = new AbortController()
    c.req.raw.signal.addEventListener('abort', () => cancel.abort(), { once: true })
    const generation = await prepareGeneration(request, identity, deps)
    const events = startGeneration(deps.engine, generation, cancel.signal)
    const continuous = c.req.header(NODE_HEADERS.continuousUsage) === '1'
    const response = newIdentity(
      deps.modelId,
      deps.systemFingerprint,
      request.includeUsage,
      continuous,
    )
    if (!request.stream) return c.json(await collect(events, response, cancel.signal))
    c.header('content-type', 'text/event-stream')
    c.header('cache-control', 'no-cache')
    return stream(c, async (out) => {
      out.onAbort(() => cancel.abort())
      const role = { role: 'assistant' as const, content: '' }
      await out.write(encodeSSEData(chunk(response, role, null, usageOf(generation, 0))))
      try {
        const ping = () => out.write(encodeSSEComment('keep-alive'))
        for await (const event of keepAlive(events, deps.keepAliveMs, ping)) {
          if (event.type === 'text') {
            const delta = { content: event.text }
            await out.write(encodeSSEData(chunk(response, delta, null, event.usage)))
          } else if (event.reason === 'abort') {
            if (!cancel.signal.aborted) await out.write(toErrorFrame(shutdownError()))
          } else {
            await out.write(encodeSSEData(chunk(response, {}, event.reason, event.usage)))
            if (response.includeUsage)
              await out.write(encodeSSEData(usageChunk(response, event.usage)))
          }
        }
      } catch (error) {
        await out.write(toErrorFrame(asNodeError(error)))
      }
      await out.write(SSE_DONE)
    })
  }

function readPriority(header: string | undefined): number {
  if (header === undefined) return 0
  const value = Number(header)
  if (!Number.isInteger(value) || value < -100 || value > 100) {
    throw new NodeError('invalid_request', 'x-gemma-priority must be an integer from -100 to 100.')
  }
  return value
}

async function readRequest(c: Context, modelId: string): Promise<ChatRequest> {
  let body: unknown
  try {
    body = await c.req.json()
  } catch {
    throw new NodeError('invalid_json', 'The request body is not valid JSON.')
  }
  const parsed = parseChatRequest(body)
  if (!parsed.ok) {
    const { kind, message, param } = parsed.problem
    throw new NodeError(kind, message, { param })
  }
  if (parsed.request.model.toLowerCase() !== modelId.toLowerCase()) {
    throw new NodeError(
      'model_not_found',
      `The model '${parsed.request.model}' does not exist; this node serves '${modelId}'.`,
      {
        param: 'model',
      },
    )
  }
  return parsed.request
}

function startGeneration(
  engine: Engine,
  generation: Parameters<Engine['generate']>[0],
  signal: AbortSignal,
): AsyncIterable<GenerationEvent> {
  try {
    return engine.generate(generation, signal)
  } catch (error) {
    if (!(error instanceof EngineOverloadedError)) throw error
    const seconds = Math.ceil(error.retryAfterMs / 1000)
    throw new NodeError('overloaded', error.message, {
      headers: { 'retry-after': String(seconds), 'retry-after-ms': String(error.retryAfterMs) },
    })
  }
}

/** A non-streamed completion; `cancelled` is the client's signal (an abort without it is a shutdown). */
async function collect(
  events: AsyncIterable<GenerationEvent>,
  identity: ResponseIdentity,
  cancelled: AbortSignal,
) {
  let content = ''
  for await (const event of events) {
    if (event.type === 'text') content += event.text
    else if (event.reason === 'abort') {
      if (cancelled.aborted) throw new NodeError('client_closed', 'The client closed the request.')
      throw shutdownError()
    } else return completion(identity, content, event.reason, event.usage satisfies GenerationUsage)
  }
  throw new NodeError('internal', 'The generation ended without a result.')
}

function shutdownError(): NodeError {
  return new NodeError('overloaded', 'The GPU node is shutting down; retry the request.', {
    headers: { 'retry-after': '1', 'retry-after-ms': '1000' },
  })
}
