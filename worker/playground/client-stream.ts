/**
 * @module
 * Browser-side code (served as part of `/playground/app.js`, see client-script.ts): one streamed chat
 * request. `fetch` + a small Server-Sent Events reader (the EventSource API cannot POST or send headers),
 * OpenAI error bodies turned into an `ApiError` (before the first byte: the HTTP body; after it: a
 * `data: {"error":…}` frame), and the latency figures: time to first token and decode rate.
 * Kept as plain ES2020 text: there is no build step (no template literals inside, so no escaping).
 */
export const CLIENT_STREAM = String.raw`
class ApiError extends Error {
  constructor(status, error, requestId) {
    super((error && error.message) || 'Request failed (HTTP ' + status + ').')
    this.status = status
    this.code = (error && (error.code || error.type)) || null
    this.param = (error && error.param) || null
    this.requestId = requestId
  }
}

async function errorFromResponse(response) {
  let body = null
  try {
    body = await response.json()
  } catch {
    // Not JSON (a proxy's error page, say): the status line is all there is.
  }
  return new ApiError(response.status, body && body.error, response.headers.get('x-request-id'))
}

/** Splits a buffer into complete SSE events; the unfinished tail stays for the next read. */
function takeEvents(buffer) {
  // A lone '\r' at the end may be half of a '\r\n' split across reads: keep it for later.
  const safe = buffer.endsWith('\r') ? buffer.length - 1 : buffer.length
  const text = buffer.slice(0, safe).replace(/\r\n?/g, '\n')
  const parts = text.split('\n\n')
  const rest = parts.pop() + buffer.slice(safe)
  const events = parts.map((event) =>
    event
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
      .join('\n'),
  )
  return { events: events.filter((data) => data !== ''), rest }
}

async function* sseData(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    const taken = takeEvents(buffer + value)
    buffer = taken.rest
    yield* taken.events
  }
  const last = takeEvents(buffer + '\n\n')
  yield* last.events
}

/**
 * Sends one streamed chat request and reports deltas as they come. Resolves with the usage chunk's
 * figures and the timings (milliseconds from the moment the request left): first content, end.
 */
async function streamChat({ apiKey, body, signal, onText }) {
  const started = performance.now()
  const response = await fetch('/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: 'Bearer ' + apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
    signal,
    credentials: 'omit',
    cache: 'no-store',
  })
  if (!response.ok) throw await errorFromResponse(response)
  const requestId = response.headers.get('x-request-id')
  let firstTokenAt = null
  let usage = null
  let finishReason = null
  for await (const data of sseData(response.body)) {
    if (data === '[DONE]') break
    const chunk = JSON.parse(data)
    if (chunk.error) throw new ApiError(response.status, chunk.error, requestId)
    if (chunk.usage) usage = chunk.usage
    const choice = chunk.choices && chunk.choices[0]
    if (!choice) continue
    if (choice.finish_reason) finishReason = choice.finish_reason
    const text = choice.delta && choice.delta.content
    if (text) {
      if (firstTokenAt === null) firstTokenAt = performance.now() - started
      onText(text)
    }
  }
  return { usage, finishReason, requestId, firstTokenAt, endedAt: performance.now() - started }
}

/** "prompt 12 · completion 30 · total 42 tokens · first token 85 ms · 118.2 tokens/s · 330 ms". */
function describeResult({ usage, finishReason, firstTokenAt, endedAt }) {
  const parts = []
  if (usage) {
    parts.push('prompt ' + usage.prompt_tokens, 'completion ' + usage.completion_tokens)
    parts.push('total ' + usage.total_tokens + ' tokens')
  }
  if (firstTokenAt !== null) parts.push('first token ' + Math.round(firstTokenAt) + ' ms')
  // Decode rate: tokens after the first over the time after the first, so prefill does not skew it.
  const decodeMs = firstTokenAt === null ? 0 : endedAt - firstTokenAt
  if (usage && usage.completion_tokens > 1 && decodeMs > 0) {
    parts.push(((usage.completion_tokens - 1) / (decodeMs / 1000)).toFixed(1) + ' tokens/s')
  }
  parts.push(Math.round(endedAt) + ' ms')
  if (finishReason) parts.push('finish: ' + finishReason)
  return parts.join(' · ')
}

function describeError(error) {
  if (!(error instanceof ApiError)) return 'Network error: ' + error.message
  // An error inside a stream came after its 200: say when it happened rather than "Error 200".
  const when = error.status === 200 ? 'during the reply' : String(error.status)
  const head = [when, error.code].filter(Boolean).join(' ')
  const param = error.param ? ' (' + error.param + ')' : ''
  const id = error.requestId ? '\nRequest id: ' + error.requestId : ''
  return 'Error ' + head + ': ' + error.message + param + id
}
`
