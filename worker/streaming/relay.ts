/**
 * @module
 * Relays a GPU node's SSE body to a streaming client (frame decisions in frame-relay.ts). This module owns
 * the plumbing and the clock:
 * - a network error from the node reads as the end of its body, so the client still gets an
 *   OpenAI-shaped error frame and `data: [DONE]` (an errored client stream would surface in openai-node
 *   as a connection error, not an API error);
 * - while the node is silent, the edge writes its own `: keep-alive` comment every `keepAliveMs` (between
 *   frames only), so proxies and mobile networks keep the connection open, and so a client that left while
 *   its request waits (queued at the node, or in a long prefill) is noticed: the runtime reports a gone
 *   client only when the edge writes to it;
 * - a node silent for `silenceLimitMs` (it sends its own keep-alives every 15 s, so it is hung, e.g.
 *   SIGSTOPped or cut off without a reset) ends the stream with an `upstream_timeout` frame;
 * - the client going away (the response body cancelled, or the request's `signal` aborted, whichever the
 *   runtime reports first) cancels the node's body, which closes the connection and frees the node's slot;
 *   the stream then ends as `cancelled`, never as a node's failure.
 * `outcome` reports how the stream ended and the last usage the node reported, for the settlement.
 */
import type { Usage } from '../../shared/openai.ts'
import { GatewayError } from '../errors.ts'
import { FrameRelay } from './frame-relay.ts'
import type { RelayEnding } from './frame-relay.ts'

export type { RelayEnding }

export interface RelayOutcome {
  ending: RelayEnding
  /** The last usage the node reported: exact when `done`, the count so far when the stream broke. */
  usage: Usage | null
}

export interface Relay {
  body: ReadableStream<Uint8Array>
  outcome: Promise<RelayOutcome>
}

export interface RelayOptions {
  includeUsage: boolean
  /** Called once, when the first chunk with generated text reaches the client (the usage record's TTFT). */
  onFirstToken?: () => void
  /** Silence before the edge writes a keep-alive comment. */
  keepAliveMs?: number
  /** Silence after which the node counts as hung. */
  silenceLimitMs?: number
  /** The client's request signal: aborted when the client goes away. */
  signal?: AbortSignal
}

/**
 * 2 s: a client that leaves is noticed that soon, and its node slot, queue place and prefill freed (at
 * 15 s, a request queued behind a long one kept its place until that one ended, measured). A comment costs
 * about 14 bytes.
 */
export const RELAY_KEEPALIVE_MS = 2_000
/** Four of the node's own keep-alive intervals (GPU_NODE_KEEPALIVE_SECONDS, default 15). */
export const RELAY_SILENCE_LIMIT_MS = 60_000

type Tick = { kind: 'read'; result: ReadableStreamReadResult<Uint8Array> } | { kind: 'broken' }

/**
 * Wraps a node SSE body for a streaming client.
 * @example
 * const relay = relayNodeStream(nodeBody, { includeUsage: request.includeUsage })
 * ctx.waitUntil(relay.outcome.then(settle))
 * return new Response(relay.body, { headers: { 'content-type': 'text/event-stream' } })
 */
export function relayNodeStream(source: ReadableStream<Uint8Array>, options: RelayOptions): Relay {
  const keepAliveMs = options.keepAliveMs ?? RELAY_KEEPALIVE_MS
  const silenceLimitMs = options.silenceLimitMs ?? RELAY_SILENCE_LIMIT_MS
  const frames = new FrameRelay(options.includeUsage, options.onFirstToken)
  const reader = source.getReader()
  const encoder = new TextEncoder()
  const decoder = new TextDecoder()
  let resolve: (outcome: RelayOutcome) => void = () => undefined
  const outcome = new Promise<RelayOutcome>((r) => (resolve = r))
  let settled = false
  const settle = (ending: RelayEnding) => {
    if (settled) return
    settled = true
    options.signal?.removeEventListener('abort', clientGone)
    resolve({ ending, usage: frames.usage })
  }
  // Before the node's body errors for the same reason (its fetch follows this signal) and reads as cut.
  const clientGone = () => {
    settle('cancelled')
    void reader.cancel().catch(() => undefined)
  }
  options.signal?.addEventListener('abort', clientGone, { once: true })
  if (options.signal?.aborted) clientGone()
  let pending: Promise<Tick> | null = null
  let silentMs = 0

  /** The next read from the node, or `null` after `keepAliveMs` of silence (the read stays pending). */
  const nextTick = async (): Promise<Tick | null> => {
    pending ??= reader.read().then(
      (result): Tick => ({ kind: 'read', result }),
      (): Tick => ({ kind: 'broken' }),
    )
    let timer: ReturnType<typeof setTimeout> | null = null
    const idle = new Promise<null>((r) => (timer = setTimeout(() => r(null), keepAliveMs)))
    const tick = await Promise.race([pending, idle])
    clearTimeout(timer)
    if (tick) pending = null
    return tick
  }

  const body = new ReadableStream<Uint8Array>({
    // Loops until it has something for the client: a pull that enqueues nothing is not called again.
    async pull(controller) {
      for (;;) {
        const tick = await nextTick()
        if (settled) return // the client cancelled while this read was pending
        let text: string
        if (tick === null) {
          silentMs += keepAliveMs
          if (silentMs < silenceLimitMs) {
            if (!frames.atBoundary) continue
            text = ': keep-alive\n\n'
          } else {
            const error = new GatewayError('upstream_timeout', 'The GPU node stopped responding.')
            text = frames.fail('stalled', error)
          }
        } else if (tick.kind === 'broken' || tick.result.done) {
          text = frames.push(decoder.decode()) + frames.end()
        } else {
          silentMs = 0
          text = frames.push(decoder.decode(tick.result.value, { stream: true }))
        }
        if (text) controller.enqueue(encoder.encode(text))
        if (frames.ending !== null) {
          controller.close()
          settle(frames.ending)
          // After [DONE], an error frame or the silence limit nothing more is read: close the connection.
          await reader.cancel().catch(() => undefined)
          return
        }
        if (text) return
      }
    },
    async cancel(reason) {
      settle('cancelled')
      await reader.cancel(reason).catch(() => undefined)
    },
  })
  return { body, outcome }
}
