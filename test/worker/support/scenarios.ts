/**
 * @module
 * What the fake GPU node (Node side) and the workerd tests agree on: the scenario markers a test puts in its
 * last user message, the node's secret, and the exact frames the normal scenario streams.
 */

/** Scenarios the fake node replays, selected by `[[scenario:<name>]]` in the last user message. */
export const SCENARIOS = {
  /** Keep-alive comment, role, two content chunks, finish chunk, usage-only chunk, `[DONE]`. */
  normal: 'normal',
  /** Some content, then an error frame and `[DONE]`. */
  errorMidStream: 'error-mid-stream',
  /** Some content, then a clean end of the HTTP body without `[DONE]`. */
  cut: 'cut',
  /** Some content, then the socket is destroyed (the node process died). */
  crash: 'crash',
  /** 400 with an OpenAI error body. */
  badRequest: 'bad-request',
  /** 503 with `retry-after` and `retry-after-ms`. */
  overloaded: 'overloaded',
  /** 401, as if the edge had the wrong secret. */
  unauthorized: 'unauthorized',
  /** 500 with an OpenAI error body. */
  serverError: 'server-error',
  /** One chunk, then one more every 50 ms for 10 s; records when the client side closes the socket. */
  slow: 'slow',
  /** Reads the request and never answers (a hung node); records when the edge gives up. */
  hang: 'hang',
} as const

export type Scenario = (typeof SCENARIOS)[keyof typeof SCENARIOS]

/** Must match `GPU_NODE_SECRET` in the worker project's bindings (vitest.config.ts); signs requests. */
export const NODE_SECRET = 'node-secret'

/** The key of the shared test tenant, imported through the admin API by support/seed-tenant.ts. */
export const TEST_API_KEY = 'sk-test-key-0123456789'

/** The marker a test puts in a message to pick a scenario. */
export function scenarioMarker(scenario: Scenario): string {
  return `[[scenario:${scenario}]]`
}

export const NORMAL_USAGE = { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 }

/** The fields every chunk of the fake node's stream shares. */
export const CHUNK_HEAD = {
  id: 'chatcmpl-fake',
  object: 'chat.completion.chunk',
  created: 1_700_000_000,
  model: 'gemma-3n-e2b-it',
  system_fingerprint: 'fp_fake',
} as const

/** A content chunk as the node sends it when asked for usage (`"usage": null` on every chunk). */
export function nodeChunk(delta: object, finishReason: string | null = null) {
  const choices = [{ index: 0, delta, logprobs: null, finish_reason: finishReason }]
  return { ...CHUNK_HEAD, choices, usage: null }
}

/** The usage after `completionTokens` tokens, as a node puts it on each chunk for the edge. */
export function runningUsage(completionTokens: number) {
  const prompt = NORMAL_USAGE.prompt_tokens
  return {
    prompt_tokens: prompt,
    completion_tokens: completionTokens,
    total_tokens: prompt + completionTokens,
  }
}

/** A node chunk as a client without `include_usage` gets it: no `usage` member at all. */
export function withoutUsage<T extends { usage: unknown }>(chunk: T): Omit<T, 'usage'> {
  const copy: Partial<T> = { ...chunk }
  delete copy.usage
  return copy as Omit<T, 'usage'>
}

/** The usage-only chunk that ends a stream with `include_usage`. */
export const USAGE_CHUNK = { ...CHUNK_HEAD, choices: [], usage: NORMAL_USAGE }
export const NORMAL_TEXT = ['Hello', ' world']
export const NODE_ERROR = {
  error: {
    message: 'The GPU ran out of memory.',
    type: 'server_error',
    param: null,
    code: 'internal_error',
  },
}
export const BAD_REQUEST_ERROR = {
  error: {
    message: "'messages' is too long for the model context.",
    type: 'invalid_request_error',
    param: 'messages',
    code: 'context_length_exceeded',
  },
}
export const OVERLOADED_ERROR = {
  error: { message: 'All slots are busy.', type: 'server_error', param: null, code: 'overloaded' },
}

/** What the fake node recorded about one request (`GET /__test/requests?id=`). */
export interface RecordedRequest {
  /** The edge's signature verified. */
  authorized: boolean
  tenant: string | null
  /** The edge asked for the usage so far on every chunk. */
  continuousUsage: boolean
  body: Record<string, unknown>
}
