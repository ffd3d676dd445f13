/**
 * @module
 * Builds a non-streaming `ChatCompletion` from a GPU node's SSE body (the edge always asks the node for a
 * stream, so usage is observed the same way for both kinds of client). A node error frame becomes that error
 * with its matching status; a stream that ends or breaks before `[DONE]`, or lacks usage or a finish reason,
 * is a 502, a node silent for `silenceLimitMs` a 504. A client that goes away (`signal`) stops the reading
 * and closes the node's body, which frees its slot: a `ClientClosedError`. `seen.usage` follows the last
 * usage the node reported as each chunk arrives, so it holds what was generated also when this throws.
 */
import { isErrorBody } from '../../shared/errors.ts'
import type {
  ChatCompletion,
  ChatCompletionChunk,
  FinishReason,
  Usage,
} from '../../shared/openai.ts'
import type { SSEEvent } from '../../shared/sse.ts'
import { SSEDecoder } from '../../shared/sse.ts'
import {
  ClientClosedError,
  GatewayError,
  NodeReportedError,
  UpstreamError,
  statusForNodeError,
} from '../errors.ts'
import { watchFirstToken } from './first-token.ts'
import { RELAY_SILENCE_LIMIT_MS } from './relay.ts'

interface Draft {
  first: ChatCompletionChunk | null
  /** Sees every chunk; calls the caller's `onFirstToken` at the first one with text. */
  watchFirstToken: (chunk: unknown) => void
  content: string
  finishReason: FinishReason | null
  /** The node's running usage (continuous usage), shared with the caller's `seen`. */
  seen: { usage: Usage | null }
  done: boolean
}

/** Applies one event to the draft; throws on a node error frame. */
function apply(draft: Draft, event: SSEEvent): void {
  if (event.data === '[DONE]') {
    draft.done = true
    return
  }
  let payload: unknown
  try {
    payload = JSON.parse(event.data)
  } catch {
    throw new UpstreamError('The GPU node sent a malformed stream frame.')
  }
  if (isErrorBody(payload)) throw new NodeReportedError(statusForNodeError(payload), payload)
  if (event.event === 'error') throw new UpstreamError('The GPU node reported an error.')
  const chunk = payload as ChatCompletionChunk
  draft.first ??= chunk
  draft.watchFirstToken(chunk)
  if (chunk.usage) draft.seen.usage = chunk.usage
  for (const choice of chunk.choices ?? []) {
    if (choice.index !== 0) continue
    draft.content += choice.delta?.content ?? ''
    draft.finishReason = choice.finish_reason ?? draft.finishReason
  }
}

/** Reads the whole body; a network error is reported as the cut stream it is. */
async function readEvents(
  source: ReadableStream<Uint8Array>,
  draft: Draft,
  silenceLimitMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const reader = source.getReader()
  const decoder = new TextDecoder()
  const sse = new SSEDecoder()
  // Cancelling ends the pending read at once (as `done`) and closes the connection to the node.
  const stop = () => void reader.cancel().catch(() => undefined)
  signal?.addEventListener('abort', stop, { once: true })
  try {
    for (;;) {
      let read: ReadableStreamReadResult<Uint8Array> | null
      let timer: ReturnType<typeof setTimeout> | null = null
      // The node's keep-alives (every 15 s) count as bytes, so only a hung node stays silent this long.
      const silence = new Promise<null>((r) => (timer = setTimeout(() => r(null), silenceLimitMs)))
      try {
        read = await Promise.race([reader.read(), silence])
      } catch {
        return
      } finally {
        clearTimeout(timer)
      }
      if (read === null) {
        throw new GatewayError('upstream_timeout', 'The GPU node stopped responding.')
      }
      const events = read.done ? sse.end() : sse.push(decoder.decode(read.value, { stream: true }))
      for (const event of events) {
        apply(draft, event)
        if (draft.done) return
      }
      if (read.done) return
    }
  } finally {
    signal?.removeEventListener('abort', stop)
    // After [DONE] or an error frame nothing more is needed from the node: close the connection.
    await reader.cancel().catch(() => undefined)
  }
}

export interface AggregateOptions {
  /** Follows the last usage the node reported, chunk by chunk (the count so far if this throws). */
  seen?: { usage: Usage | null }
  /** Called once, when the first chunk with generated text arrives (the usage record's TTFT). */
  onFirstToken?: () => void
  /** Silence after which the node counts as hung. */
  silenceLimitMs?: number
  /** The client's request signal: aborted when the client goes away. */
  signal?: AbortSignal
}

/**
 * @example
 * const completion = await aggregateCompletion(nodeBody, { seen })
 * return c.json(completion)
 */
export async function aggregateCompletion(
  source: ReadableStream<Uint8Array>,
  options: AggregateOptions = {},
): Promise<ChatCompletion> {
  const draft: Draft = {
    first: null,
    watchFirstToken: watchFirstToken(options.onFirstToken),
    content: '',
    finishReason: null,
    seen: options.seen ?? { usage: null },
    done: false,
  }
  const silenceLimitMs = options.silenceLimitMs ?? RELAY_SILENCE_LIMIT_MS
  await readEvents(source, draft, silenceLimitMs, options.signal)
  if (options.signal?.aborted && !draft.done) throw new ClientClosedError()
  const { first, finishReason } = draft
  const usage = draft.seen.usage
  if (!draft.done) throw new UpstreamError('The GPU node stream ended before it was complete.')
  if (!first || !finishReason || !usage) {
    throw new UpstreamError('The GPU node stream lacked a finish reason or usage.')
  }
  return {
    id: first.id,
    object: 'chat.completion',
    created: first.created,
    model: first.model,
    system_fingerprint: first.system_fingerprint,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: draft.content, refusal: null },
        logprobs: null,
        finish_reason: finishReason,
      },
    ],
    usage,
  }
}
