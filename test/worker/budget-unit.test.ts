/**
 * @module
 * Pure pieces of the budget layer: Go-style durations, limit windows, the prompt upper bound, the
 * rate-limit headers and the 429 a refusal becomes.
 */
import { describe, expect, it } from 'vitest'
import type { ChatRequest } from '../../shared/chat-request.ts'
import {
  AUDIO_TOKENS_MAX,
  IMAGE_TOKENS_MAX,
  promptTokensUpperBound,
} from '../../worker/budget/prompt-estimate.ts'
import { rateLimitHeaders } from '../../worker/budget/rate-limit-headers.ts'
import { refusalError } from '../../worker/budget/refusal-error.ts'
import { currentWindow, goDuration, utcDay } from '../../worker/budget/windows.ts'

describe('goDuration', () => {
  it.each([
    [0, '0s'],
    [12, '12ms'],
    [999, '999ms'],
    [1_000, '1s'],
    [1_500, '1.5s'],
    [59_999, '59.999s'],
    [60_000, '1m0s'],
    [360_000, '6m0s'],
    [3_723_000, '1h2m3s'],
    [0.4, '1ms'],
  ])('%d ms → %s (as Go writes time.Duration)', (ms, text) => {
    expect(goDuration(ms)).toBe(text)
  })
})

describe('currentWindow', () => {
  it('keeps a minute window open for 60 s from its first request, then opens a new one', () => {
    expect(currentWindow('rpm', 1_000, 60_999)).toEqual({ start: 1_000, end: 61_000 })
    expect(currentWindow('tpm', 1_000, 61_000)).toEqual({ start: 61_000, end: 121_000 })
    expect(currentWindow('rpm', null, 5)).toEqual({ start: 5, end: 60_005 })
  })

  it('follows the UTC calendar for daily and monthly budgets', () => {
    const now = Date.UTC(2026, 1, 28, 23, 59, 59)
    expect(currentWindow('daily_tokens', null, now)).toEqual({
      start: Date.UTC(2026, 1, 28),
      end: Date.UTC(2026, 2, 1),
    })
    expect(currentWindow('monthly_tokens', null, now)).toEqual({
      start: Date.UTC(2026, 1, 1),
      end: Date.UTC(2026, 2, 1),
    })
    expect(utcDay(now)).toBe('2026-02-28')
  })
})

describe('promptTokensUpperBound', () => {
  const request = (messages: ChatRequest['messages']) => ({ messages }) as ChatRequest

  it('counts UTF-8 bytes, a fixed cost per message, and the full media cost', () => {
    expect(promptTokensUpperBound(request([{ role: 'user', content: 'héllo' }]))).toBe(4 + 12 + 6)
    const media = request([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'ab' },
          { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
          { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
        ],
      },
      { role: 'assistant', content: '' },
    ])
    expect(promptTokensUpperBound(media)).toBe(4 + 24 + 2 + IMAGE_TOKENS_MAX + AUDIO_TOKENS_MAX)
  })
})

describe('refusals and headers', () => {
  it('writes all three header families with Go durations', () => {
    expect(
      rateLimitHeaders({
        requests: { limit: 60, remaining: 59, resetMs: 1_000 },
        tokens: { limit: 1_000, remaining: 0, resetMs: 360_000 },
        budget: { limit: 5, remaining: 5, resetMs: 0 },
      }),
    ).toEqual({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-limit-tokens': '1000',
      'x-ratelimit-remaining-tokens': '0',
      'x-ratelimit-reset-tokens': '6m0s',
      'x-budget-limit-tokens': '5',
      'x-budget-remaining-tokens': '5',
      'x-budget-reset-tokens': '0s',
    })
    expect(rateLimitHeaders({})).toEqual({})
  })

  it('tells a rate limit (retry) from a spent budget (do not retry)', () => {
    const base = { scope: 'tenant', limit: 100, requested: 150 } as const
    const rate = refusalError({ ...base, reason: 'rate', field: 'tpm', retryAfterMs: 1_234 })
    expect(rate).toMatchObject({ status: 429, type: 'tokens', code: 'rate_limit_exceeded' })
    expect(rate.headers).toEqual({ 'retry-after': '2', 'retry-after-ms': '1234' })
    const quota = refusalError({
      ...base,
      reason: 'quota',
      field: 'daily_tokens',
      retryAfterMs: 7_200_000,
    })
    expect(quota).toMatchObject({
      status: 429,
      type: 'insufficient_quota',
      code: 'insufficient_quota',
    })
    expect(quota.message).toContain('resets in 2h0m0s')
    // The prompt's share is its upper bound, and the message says so: the number is not what it uses.
    expect(quota.message).toContain(
      'this request may take up to 150 (its prompt counted at one token per byte',
    )
    expect(quota.headers).toMatchObject({ 'retry-after': '7200', 'x-should-retry': 'false' })
    // A budget whose tokens running requests hold is not spent: retry in a moment.
    const busy = refusalError({
      ...base,
      reason: 'busy',
      field: 'daily_tokens',
      retryAfterMs: 1_000,
      held: 120,
    })
    expect(busy).toMatchObject({ status: 429, type: 'tokens', code: 'rate_limit_exceeded' })
    expect(busy.message).toContain('requests still running hold 120 tokens')
    expect(busy.headers).toEqual({ 'retry-after': '1', 'retry-after-ms': '1000' })
  })
})
