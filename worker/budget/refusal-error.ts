/**
 * @module
 * A refused reservation as the 429 a client can act on (openai-wire.md pain point 7): `type`/`code`
 * `requests`|`tokens` + `rate_limit_exceeded` when waiting helps (a window that resets, or tokens that
 * running requests hold, even in a daily budget), `insufficient_quota` when a budget is spent or a limit
 * is 0; always `retry-after` and `retry-after-ms`; `x-should-retry: false` where an automatic retry
 * cannot succeed (openai-node obeys it before anything else).
 */
import type { Refusal } from '../durable-objects/limiter-types.ts'
import { GatewayError } from '../errors.ts'
import { TOKEN_FIELDS, goDuration } from './windows.ts'

/** What a client that must not retry automatically is told to wait anyway (a person has to act first). */
const NO_RETRY_WAIT_MS = 60_000

const FIELD_NAMES = {
  rpm: 'requests per minute',
  tpm: 'tokens per minute',
  concurrency: 'concurrent requests',
  daily_tokens: 'daily token budget',
  monthly_tokens: 'monthly token budget',
} as const

const RATE = { status: 429, code: 'rate_limit_exceeded' }
const QUOTA = { status: 429, type: 'insufficient_quota', code: 'insufficient_quota' }

function describe(refusal: Refusal): string {
  const what = `the ${refusal.scope}'s ${FIELD_NAMES[refusal.field]}`
  // The prompt is counted at its upper bound (a token per byte of text: the edge has no tokenizer), so
  // this is the most the request can take, not what it will: say so, or the number reads as wrong.
  const needs =
    refusal.requested === null
      ? ''
      : `, this request may take up to ${refusal.requested} (its prompt counted at one token per byte of text until the model tokenizes it, plus the completion)`
  switch (refusal.reason) {
    case 'disabled':
      return `Requests are refused: ${what} limit is 0. An operator must raise it.`
    case 'too_large':
      return `Request too large for ${what}: limit ${refusal.limit}${needs}. Lower max_completion_tokens or shorten the prompt.`
    case 'quota':
      return `Token budget exhausted: ${what} is ${refusal.limit}${needs}. It resets in ${goDuration(refusal.retryAfterMs)}.`
    case 'rate':
      return `Rate limit reached for ${what}: limit ${refusal.limit}${needs}. Retry in ${goDuration(refusal.retryAfterMs)}.`
    case 'busy':
      return `Rate limit reached for ${what}: limit ${refusal.limit}${needs}, and requests still running hold ${refusal.held ?? 0} tokens of it until they end (then only what they used stays spent). Retry in ${goDuration(refusal.retryAfterMs)}.`
  }
}

/**
 * @example throw refusalError({ reason: 'rate', field: 'rpm', scope: 'tenant', limit: 60, requested: null, retryAfterMs: 1200 })
 */
export function refusalError(refusal: Refusal): GatewayError {
  const retryable = refusal.reason === 'rate' || refusal.reason === 'busy'
  const waitMs = retryable
    ? Math.max(1, refusal.retryAfterMs)
    : Math.max(NO_RETRY_WAIT_MS, refusal.retryAfterMs)
  const headers: Record<string, string> = {
    'retry-after': String(Math.ceil(waitMs / 1000)),
    'retry-after-ms': String(Math.ceil(waitMs)),
  }
  if (!retryable) headers['x-should-retry'] = 'false'
  const quota =
    refusal.reason === 'disabled' ||
    refusal.reason === 'quota' ||
    (refusal.reason === 'too_large' && refusal.field !== 'tpm')
  const tokens = (TOKEN_FIELDS as readonly string[]).includes(refusal.field)
  const spec = quota ? QUOTA : { ...RATE, type: tokens ? 'tokens' : 'requests' }
  return new GatewayError(spec, describe(refusal), { headers })
}
