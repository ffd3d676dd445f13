/**
 * @module
 * The relay on its own, with hand-made byte chunks: frames split anywhere (inside a UTF-8 character, between
 * `\r` and `\n`), usage observation, and cancellation reaching the node's body, which the end-to-end tests
 * cannot isolate (workerd also drops a gone client's subrequests by itself).
 */
import { describe, expect, it } from 'vitest'
import { aggregateCompletion } from '../../worker/streaming/aggregate.ts'
import { relayNodeStream } from '../../worker/streaming/relay.ts'
import { withTimeout } from './support/edge-client.ts'
import {
  NORMAL_USAGE,
  USAGE_CHUNK,
  nodeChunk,
  runningUsage,
  withoutUsage,
} from './support/scenarios.ts'

const encoder = new TextEncoder()
const frame = (payload: unknown) => `data: ${JSON.stringify(payload)}\r\n\r\n`

/** A node body that delivers `bytes` in pieces of `size` bytes. */
function sourceOf(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let offset = 0
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close()
      controller.enqueue(bytes.slice(offset, offset + size))
      offset += size
    },
  })
}

const NODE_STREAM = encoder.encode(
  [
    ': ping',
    '\r\n\r\n',
    frame(nodeChunk({ role: 'assistant', content: 'héllo – 👋' })),
    frame(nodeChunk({}, 'stop')),
    frame(USAGE_CHUNK),
    'data: [DONE]\r\n\r\n',
  ].join(''),
)

describe('relayNodeStream', () => {
  it.each([[1], [2], [7], [NODE_STREAM.byteLength]])(
    'gives the same frames whatever the chunk size (%i bytes)',
    async (size) => {
      const relay = relayNodeStream(sourceOf(NODE_STREAM, size), { includeUsage: false })
      const text = await new Response(relay.body).text()
      const first = withoutUsage(nodeChunk({ role: 'assistant', content: 'héllo – 👋' }))
      const last = withoutUsage(nodeChunk({}, 'stop'))
      expect(text).toBe(
        `: ping\n\ndata: ${JSON.stringify(first)}\n\ndata: ${JSON.stringify(last)}\n\ndata: [DONE]\n\n`,
      )
      expect(await relay.outcome).toEqual({ ending: 'done', usage: NORMAL_USAGE })
    },
  )

  it('keeps a "usage":null that is text inside the content', async () => {
    const tricky = nodeChunk({ content: '{"usage":null}, "usage":null' })
    const bytes = encoder.encode(`${frame(tricky)}data: [DONE]\n\n`)
    const text = await new Response(
      relayNodeStream(sourceOf(bytes, 5), { includeUsage: false }).body,
    ).text()
    const expected = withoutUsage(tricky)
    expect(text).toBe(`data: ${JSON.stringify(expected)}\n\ndata: [DONE]\n\n`)
  })

  it("cancels the node's body when the client cancels, and reports it", async () => {
    let cancelled: unknown = null
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(frame(nodeChunk({ content: 'a' }))))
      },
      cancel(reason) {
        cancelled = reason ?? 'cancelled'
      },
    })
    const relay = relayNodeStream(source, { includeUsage: true })
    const reader = relay.body.getReader()
    expect((await withTimeout(reader.read(), 2_000, 'first frame')).done).toBe(false)
    await reader.cancel('client gone')
    expect(cancelled).toBe('client gone')
    expect(await withTimeout(relay.outcome, 2_000, 'outcome')).toEqual({
      ending: 'cancelled',
      usage: null,
    })
  })

  it.each([[false], [true]])(
    'strips the continuous usage and charges the last count when the node breaks (include_usage: %s)',
    async (includeUsage) => {
      const running = { ...nodeChunk({ content: 'a' }), usage: runningUsage(4) }
      const bytes = encoder.encode(frame(running))
      const relay = relayNodeStream(sourceOf(bytes, 3), { includeUsage })
      const text = await new Response(relay.body).text()
      const expected = includeUsage
        ? nodeChunk({ content: 'a' })
        : withoutUsage(nodeChunk({ content: 'a' }))
      expect(text.startsWith(`data: ${JSON.stringify(expected)}\n\n`)).toBe(true)
      expect(text).toContain('"code":"upstream_error"')
      expect(text.endsWith('data: [DONE]\n\n')).toBe(true)
      expect(await relay.outcome).toEqual({ ending: 'cut', usage: runningUsage(4) })
    },
  )

  it('writes its own keep-alives while the node is silent, and gives up on a hung node', async () => {
    let cancelled = false
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        // Half a frame, then silence: keep-alives must wait for the frame boundary.
        controller.enqueue(encoder.encode(`${frame(nodeChunk({ content: 'a' }))}data: {"par`))
      },
      cancel() {
        cancelled = true
      },
    })
    const hung = relayNodeStream(source, {
      includeUsage: false,
      keepAliveMs: 10,
      silenceLimitMs: 50,
    })
    const text = await withTimeout(new Response(hung.body).text(), 2_000, 'hung stream')
    expect(text).not.toContain(': keep-alive')
    expect(text).toContain('"code":"upstream_timeout"')
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true)
    expect(cancelled).toBe(true)
    expect((await hung.outcome).ending).toBe('stalled')

    const quiet = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(frame(nodeChunk({ content: 'b' }))))
      },
    })
    const relay = relayNodeStream(quiet, {
      includeUsage: false,
      keepAliveMs: 10,
      silenceLimitMs: 40,
    })
    const frames = (await withTimeout(new Response(relay.body).text(), 2_000, 'quiet')).split(
      '\n\n',
    )
    expect(frames.filter((f) => f === ': keep-alive').length).toBeGreaterThanOrEqual(2)
  })

  it('sends the usage so far once before an error: not again after the node sent its own', async () => {
    const usageOf = (text: string) =>
      text.split('\n\n').filter((f) => f.startsWith('data: {') && f.includes('"choices":[]'))
    const relayed = async (source: ReadableStream<Uint8Array>) =>
      new Response(
        relayNodeStream(source, { includeUsage: true, keepAliveMs: 10, silenceLimitMs: 50 }).body,
      ).text()
    const started = frame({ ...nodeChunk({ content: 'a' }), usage: runningUsage(1) })
    // Cut after the node's own usage chunk: that one, no second.
    const afterUsage = await relayed(
      sourceOf(encoder.encode(`${started}${frame(USAGE_CHUNK)}`), 64),
    )
    expect(usageOf(afterUsage)).toEqual([`data: ${JSON.stringify(USAGE_CHUNK)}`])
    expect(afterUsage).toContain('"code":"upstream_error"')
    // A node gone silent mid-stream: the edge's own usage chunk, then the timeout.
    const silent = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(started))
      },
    })
    const stalled = await withTimeout(relayed(silent), 2_000, 'stalled stream')
    const [usage] = usageOf(stalled)
    expect(JSON.parse(usage!.slice('data: '.length)).usage).toEqual(runningUsage(1))
    expect(stalled.indexOf('"choices":[]')).toBeLessThan(stalled.indexOf('upstream_timeout'))
  })
})

describe("first token (the usage record's TTFT)", () => {
  const frames = [
    frame(nodeChunk({ role: 'assistant', content: '' })),
    frame(nodeChunk({ content: 'Hi' })),
    frame(nodeChunk({ content: ' there' })),
    frame(nodeChunk({}, 'stop')),
    frame(USAGE_CHUNK),
    'data: [DONE]\r\n\r\n',
  ]
  /** One frame per read, so the test sees which frame the callback came with. */
  const framesSource = (list: string[]) => {
    let next = 0
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (next === list.length) return controller.close()
        controller.enqueue(encoder.encode(list[next++]))
      },
    })
  }

  it('is the first chunk with text, not the role chunk, and is reported once (relay)', async () => {
    let calls = 0
    const relay = relayNodeStream(framesSource(frames), {
      includeUsage: false,
      onFirstToken: () => calls++,
    })
    const reader = relay.body.getReader()
    const decoder = new TextDecoder()
    const callsAfter: Record<string, number> = {}
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      callsAfter[decoder.decode(value).trim()] = calls
    }
    const seen = Object.entries(callsAfter)
    expect(seen.find(([text]) => text.includes('"role"'))?.[1]).toBe(0)
    expect(seen.find(([text]) => text.includes('"Hi"'))?.[1]).toBe(1)
    expect(calls).toBe(1)
  })

  it('is reported once by the aggregator too, and never for a reply without text', async () => {
    let calls = 0
    const completion = await aggregateCompletion(framesSource(frames), {
      onFirstToken: () => calls++,
    })
    expect(completion.choices[0]?.message.content).toBe('Hi there')
    expect(calls).toBe(1)
    let empty = 0
    const silent = [frames[0]!, ...frames.slice(3)]
    await aggregateCompletion(framesSource(silent), { onFirstToken: () => empty++ })
    expect(empty).toBe(0)
  })
})
