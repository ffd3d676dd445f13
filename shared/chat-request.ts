/**
 * @module
 * The one validator for `POST /v1/chat/completions` bodies, used by the edge and the GPU node alike, so both
 * refuse the same inputs with the same message and `param`. It parses the wire JSON into a `ChatRequest`
 * with OpenAI's aliases resolved (`max_completion_tokens` over the deprecated `max_tokens`, `developer` as
 * `system`, `stop` always a list). Unknown top-level fields are ignored, as OpenAI clients send many.
 * valibot is used for its small, tree-shaken footprint in the Worker bundle.
 */
import * as v from 'valibot'
import { briefly } from './errors.ts'

/** Limits that protect both sides; the edge also caps the raw body size before parsing. */
export const CHAT_LIMITS = {
  maxBodyBytes: 20 * 1024 * 1024,
  maxMessages: 1_000,
  maxPartsPerMessage: 100,
  maxStopSequences: 4,
  maxStopLength: 256,
} as const

const textPart = v.object({ type: v.literal('text'), text: v.string() })
const imagePart = v.object({
  type: v.literal('image_url'),
  image_url: v.object({
    url: v.pipe(v.string(), v.nonEmpty('must not be empty')),
    detail: v.optional(v.picklist(['auto', 'low', 'high'])),
  }),
})
const audioPart = v.object({
  type: v.literal('input_audio'),
  input_audio: v.object({
    data: v.pipe(v.string(), v.nonEmpty('must not be empty')),
    format: v.picklist(['wav', 'mp3']),
  }),
})
const userPart = v.variant('type', [textPart, imagePart, audioPart])
const parts = <T extends v.GenericSchema>(part: T) =>
  v.pipe(
    v.array(part),
    v.nonEmpty('must have at least one part'),
    v.maxLength(
      CHAT_LIMITS.maxPartsPerMessage,
      `must have at most ${CHAT_LIMITS.maxPartsPerMessage} parts`,
    ),
  )

const message = v.variant('role', [
  v.object({
    role: v.picklist(['system', 'developer']),
    content: v.union([v.string(), parts(textPart)]),
    name: v.optional(v.string()),
  }),
  v.object({
    role: v.literal('user'),
    content: v.union([v.string(), parts(userPart)]),
    name: v.optional(v.string()),
  }),
  v.object({
    role: v.literal('assistant'),
    content: v.nullish(v.union([v.string(), parts(textPart)])),
    name: v.optional(v.string()),
  }),
])

const positiveInt = v.pipe(
  v.number(),
  v.integer('must be an integer'),
  v.minValue(1, 'must be at least 1'),
)
const unitInterval = v.pipe(
  v.number(),
  v.minValue(0, 'must be between 0 and 1'),
  v.maxValue(1, 'must be between 0 and 1'),
)
const penalty = v.pipe(
  v.number(),
  v.minValue(-2, 'must be between -2 and 2'),
  v.maxValue(2, 'must be between -2 and 2'),
)

const wireRequest = v.pipe(
  v.object({
    model: v.pipe(v.string(), v.nonEmpty('must not be empty')),
    messages: v.pipe(
      v.array(message),
      v.nonEmpty('must contain at least one message'),
      v.maxLength(
        CHAT_LIMITS.maxMessages,
        `must contain at most ${CHAT_LIMITS.maxMessages} messages`,
      ),
    ),
    stream: v.nullish(v.boolean()),
    stream_options: v.nullish(v.object({ include_usage: v.optional(v.boolean()) })),
    max_completion_tokens: v.nullish(positiveInt),
    max_tokens: v.nullish(positiveInt),
    temperature: v.nullish(
      v.pipe(
        v.number(),
        v.minValue(0, 'must be between 0 and 2'),
        v.maxValue(2, 'must be between 0 and 2'),
      ),
    ),
    top_p: v.nullish(unitInterval),
    top_k: v.nullish(
      v.pipe(v.number(), v.integer('must be an integer'), v.minValue(0, 'must be 0 (off) or more')),
    ),
    seed: v.nullish(
      v.pipe(
        v.number(),
        v.integer('must be an integer'),
        // 2 ** 63 is also how JavaScript reads 9223372036854775807, the largest int64.
        v.check((seed) => seed >= -(2 ** 63) && seed <= 2 ** 63, 'must be a 64-bit integer'),
      ),
    ),
    stop: v.nullish(
      v.union([
        v.pipe(v.string(), v.maxLength(CHAT_LIMITS.maxStopLength)),
        v.pipe(
          v.array(
            v.pipe(
              v.string(),
              v.nonEmpty('must not be empty'),
              v.maxLength(CHAT_LIMITS.maxStopLength),
            ),
          ),
          v.maxLength(
            CHAT_LIMITS.maxStopSequences,
            `must have at most ${CHAT_LIMITS.maxStopSequences} sequences`,
          ),
        ),
      ]),
    ),
    presence_penalty: v.nullish(penalty),
    frequency_penalty: v.nullish(penalty),
    // 1 is the only count served; 0 or less is an invalid value rather than an unsupported one.
    n: v.nullish(
      v.pipe(
        v.number(),
        v.integer('must be an integer'),
        v.minValue(1, 'must be at least 1'),
        v.maxValue(1),
      ),
    ),
    user: v.nullish(v.string()),
    logprobs: v.nullish(v.literal(false)),
    tools: v.nullish(v.pipe(v.array(v.unknown()), v.maxLength(0))),
    response_format: v.nullish(v.object({ type: v.literal('text') })),
    // Accepted only where they change nothing, so that no request is silently served differently.
    top_logprobs: v.nullish(v.literal(0)),
    logit_bias: v.nullish(
      v.pipe(
        v.record(v.string(), v.number()),
        v.check((bias) => Object.keys(bias).length === 0),
      ),
    ),
    modalities: v.nullish(v.array(v.literal('text'))),
    audio: v.nullish(v.null()),
    // The deprecated function-calling fields, and a tool choice that would force a call: the same as tools.
    functions: v.nullish(v.pipe(v.array(v.unknown()), v.maxLength(0))),
    function_call: v.nullish(v.literal('none')),
    tool_choice: v.nullish(v.picklist(['none', 'auto'])),
  }),
  // OpenAI refuses stream_options on a request that does not stream; a client that forgot `stream` learns it.
  v.forward(
    v.check(
      (body) => body.stream_options == null || body.stream === true,
      'is only allowed when stream is true',
    ),
    ['stream_options'],
  ),
)

export type WireChatRequest = v.InferOutput<typeof wireRequest>
export type WireMessage = WireChatRequest['messages'][number]
export type UserPart = v.InferOutput<typeof userPart>

/** A validated request with aliases resolved; the only request type the rest of the code accepts. */
export interface ChatRequest {
  model: string
  messages: ChatRequestMessage[]
  stream: boolean
  includeUsage: boolean
  /** `null`: as many as the context leaves. */
  maxCompletionTokens: number | null
  /** `null` fields fall back to the model's generation_config.json on the GPU node. */
  temperature: number | null
  topP: number | null
  topK: number | null
  seed: number | null
  stop: string[]
  presencePenalty: number
  frequencyPenalty: number
  user: string | null
}

export interface ChatRequestMessage {
  role: 'system' | 'user' | 'assistant'
  content: string | UserPart[]
}

/** Why a body was refused: a message for people and the OpenAI `param` path (e.g. `messages[0].content`). */
export interface ChatRequestProblem {
  message: string
  param: string | null
  /**
   * The error kind (shared/errors.ts), as OpenAI codes it: a field that is missing, of the wrong JSON type,
   * or of the right type with a value out of range or not among the choices; or a valid OpenAI parameter
   * that gemma-edge does not implement (`unsupported_parameter`).
   */
  kind: 'missing_required_parameter' | 'invalid_type' | 'invalid_value' | 'unsupported_parameter'
}

/** valibot schema types that check a JSON type; any other failing schema is a value outside a choice. */
const TYPE_SCHEMAS = new Set(['string', 'number', 'boolean', 'object', 'array', 'record', 'null'])

const UNSUPPORTED_PARAMS = new Set([
  'n',
  'logprobs',
  'top_logprobs',
  'tools',
  'response_format',
  'logit_bias',
  'modalities',
  'audio',
  'functions',
  'function_call',
  'tool_choice',
])

/**
 * Validates an already JSON-parsed body.
 * @example
 * const result = parseChatRequest(await req.json())
 * if (!result.ok) throw new BadRequest(result.problem.message, result.problem.param)
 */
export function parseChatRequest(
  body: unknown,
): { ok: true; request: ChatRequest } | { ok: false; problem: ChatRequestProblem } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return {
      ok: false,
      problem: {
        message: 'The request body must be a JSON object.',
        param: null,
        kind: 'invalid_type',
      },
    }
  }
  const parsed = v.safeParse(wireRequest, body)
  if (!parsed.success) return { ok: false, problem: describeIssue(parsed.issues[0]) }
  return { ok: true, request: normalize(parsed.output) }
}

function normalize(wire: WireChatRequest): ChatRequest {
  return {
    model: wire.model,
    messages: wire.messages.map((m) => ({
      role: m.role === 'developer' ? 'system' : m.role,
      content: m.content ?? '',
    })),
    stream: wire.stream ?? false,
    includeUsage: wire.stream_options?.include_usage ?? false,
    maxCompletionTokens: wire.max_completion_tokens ?? wire.max_tokens ?? null,
    temperature: wire.temperature ?? null,
    topP: wire.top_p ?? null,
    topK: wire.top_k ?? null,
    seed: wire.seed ?? null,
    stop: wire.stop == null ? [] : typeof wire.stop === 'string' ? [wire.stop] : wire.stop,
    presencePenalty: wire.presence_penalty ?? 0,
    frequencyPenalty: wire.frequency_penalty ?? 0,
    user: wire.user ?? null,
  }
}

/**
 * Turns a valibot issue into `messages[0].content[1].type`-style params and a readable message. A failed
 * union reports only "expected string | array"; its sub-issues say what is actually wrong inside the
 * branch the input was meant for, so descend to the deepest one.
 */
function describeIssue(first: v.BaseIssue<unknown> | undefined): ChatRequestProblem {
  if (!first) return { message: 'Invalid request.', param: null, kind: 'invalid_value' }
  const issue = deepest(first)
  let param = ''
  for (const item of issue.path ?? []) {
    const key = item.key
    param += typeof key === 'number' ? `[${key}]` : param ? `.${String(key)}` : String(key)
  }
  const top = String(issue.path?.[0]?.key ?? '')
  // `n: 0` is simply invalid; only a count above the one served is unsupported.
  const invalidCount = top === 'n' && issue.type !== 'max_value'
  if (UNSUPPORTED_PARAMS.has(top) && issue.input !== undefined && !invalidCount) {
    return {
      message: `'${top}' with this value is not supported by gemma-edge.`,
      param: top,
      kind: 'unsupported_parameter',
    }
  }
  const missing = issue.input === undefined
  const what = missing ? 'is required' : describeProblem(issue)
  const kind = missing
    ? 'missing_required_parameter'
    : wrongType(issue)
      ? 'invalid_type'
      : 'invalid_value'
  return { message: `'${param || 'body'}' ${what}.`, param: param || null, kind }
}

/**
 * Whether the value has the wrong JSON type: a type schema refused it, every type a union allows did
 * (`content: 5`), or a variant of objects got something that is not one (`messages: ["hi"]`).
 */
function wrongType(issue: v.BaseIssue<unknown>): boolean {
  if (issue.kind !== 'schema') return false
  if (TYPE_SCHEMAS.has(issue.type)) return true
  if (issue.type === 'union') return (issue.issues ?? []).every(wrongType)
  // A variant also reports an unknown discriminator (`role: "tool"`): a value, with the choices expected.
  return issue.type === 'variant' && issue.expected === 'Object'
}

/** Sub-issues of a union carry paths relative to the union, so the full path is the concatenation. */
function deepest(issue: v.BaseIssue<unknown>): v.BaseIssue<unknown> {
  let best = issue
  for (const sub of issue.issues ?? []) {
    const inner = deepest(sub)
    const path = [...(issue.path ?? []), ...(inner.path ?? [])] as v.IssuePathItem[]
    if (path.length > (best.path?.length ?? 0)) best = { ...inner, path: path as never }
  }
  return best
}

function describeProblem(issue: v.BaseIssue<unknown>): string {
  // Custom messages ('must not be empty') read as they are; valibot's own say what was expected.
  if (issue.kind === 'validation' && !issue.message.startsWith('Invalid')) return issue.message
  return `is invalid: expected ${issue.expected ?? 'a different value'}, got ${briefly(issue.received)}`
}
