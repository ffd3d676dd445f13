/**
 * @module
 * Budgets and rate limits through the worker's real entry: a concurrent burst against a small daily budget
 * (never more admitted than the budget; the ledger equals the usage records), the OpenAI rate-limit headers
 * and 429s a client can act on, a limit of 0, the grant for a client without a maximum, and `GET /v1/usage`.
 */
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { goDuration } from '../../worker/budget/windows.ts'
import { callEdge, chatBody, recordedRequest, withTimeout } from './support/edge-client.ts'
import { chatWith, createTenantWithKey, usageRecords } from './support/admin-client.ts'
import { NORMAL_USAGE, SCENARIOS } from './support/scenarios.ts'
import { makeWav, toBase64 } from './media/support/fixtures.ts'

/** `chatBody(normal)`'s prompt bound: 4 fixed + 12 for the message + 29 UTF-8 bytes of text. */
const PROMPT_BOUND = 45
const GO_DURATION = /^(\d+h)?(\d+m)?\d+(\.\d+)?s$|^\d+ms$/

const normal = (extra: Record<string, unknown> = {}) =>
  chatBody(SCENARIOS.normal, { max_completion_tokens: 100, ...extra })

describe('a concurrent burst against a small budget', () => {
  it('never admits more than the budget, and the ledger equals the usage records', async () => {
    const budget = 1_000
    const requests = 24
    const { tenantId, key } = await createTenantWithKey({ daily_tokens: budget })
    const responses = await Promise.all(
      Array.from({ length: requests }, () => callEdge(chatWith(key.key, normal()))),
    )
    const statuses = responses.map((r) => r.status)
    const admitted = statuses.filter((s) => s === 200).length
    expect(admitted + statuses.filter((s) => s === 429).length).toBe(requests)
    // Refused while others ran: their reservations held the budget, which they hardly use (15 of 145
    // tokens each), so each refusal is a retry in a moment, not "budget spent".
    for (const response of responses.filter((r) => r.status === 429)) {
      expect(await response.json()).toMatchObject({
        error: { type: 'tokens', code: 'rate_limit_exceeded' },
      })
      expect(response.headers.get('x-should-retry')).toBeNull()
      expect(Number(response.headers.get('retry-after-ms'))).toBeLessThanOrEqual(1_000)
    }
    const records = await usageRecords(tenantId, requests)
    const charged = records.reduce((sum, r) => sum + r.charged_tokens, 0)
    const used = await runInDurableObject(
      env.TENANT_LIMITER.getByName(tenantId),
      (_o, state) =>
        state.storage.sql
          .exec<{ used: number }>(
            "SELECT used FROM windows WHERE scope = 'tenant' AND field = 'daily_tokens'",
          )
          .one().used,
    )
    console.log(
      `[budget burst, HTTP] requests=${requests} budget=${budget} reservation=${PROMPT_BOUND + 100} admitted=${admitted} charged_tokens=${charged} ledger_used=${used}`,
    )
    // At least what the budget holds at full reservations; more only if early requests settled (and
    // refunded) before later ones reserved. What was charged never passes the budget.
    expect(admitted).toBeGreaterThanOrEqual(Math.floor(budget / (PROMPT_BOUND + 100)))
    expect(charged).toBeLessThanOrEqual(budget)
    expect(charged).toBe(admitted * NORMAL_USAGE.total_tokens)
    expect(used).toBe(charged)
    expect(records.filter((r) => r.status === 200).every((r) => r.usage_source === 'node')).toBe(
      true,
    )
  })
})

describe('a spent budget', () => {
  it('is insufficient_quota, not to be retried, once settled use leaves too little', async () => {
    const budget = PROMPT_BOUND + 100 + NORMAL_USAGE.total_tokens - 1
    const { key } = await createTenantWithKey({ daily_tokens: budget })
    expect((await callEdge(chatWith(key.key, normal()))).status).toBe(200)
    // The first request's settlement (its usage record) lands after its response: wait for the refund.
    let refused: Response | null = null
    for (let i = 0; i < 50 && !refused; i++) {
      const res = await callEdge(chatWith(key.key, normal()))
      const body = await res.json<{ error?: { code: string } }>()
      if (body.error?.code === 'insufficient_quota') refused = res
      else await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(refused?.status).toBe(429)
    expect(refused?.headers.get('x-should-retry')).toBe('false')
  })
})

describe('rate-limit headers and 429s', () => {
  it('counts requests down and refuses the one over the limit with a wait that matches the headers', async () => {
    const { key } = await createTenantWithKey({ rpm: 2, tpm: 10_000 })
    const first = await callEdge(chatWith(key.key, normal()))
    expect(first.status).toBe(200)
    expect(first.headers.get('x-ratelimit-limit-requests')).toBe('2')
    expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('1')
    expect(first.headers.get('x-ratelimit-reset-requests')).toMatch(GO_DURATION)
    expect(first.headers.get('x-ratelimit-limit-tokens')).toBe('10000')
    expect(first.headers.get('x-ratelimit-remaining-tokens')).toBe(
      String(10_000 - PROMPT_BOUND - 100),
    )
    const stream = await callEdge(chatWith(key.key, normal({ stream: true })))
    expect(stream.headers.get('x-ratelimit-remaining-requests')).toBe('0')
    await withTimeout(stream.text(), 5_000, 'stream body')
    const refused = await callEdge(chatWith(key.key, normal()))
    expect(refused.status).toBe(429)
    expect(await refused.json()).toEqual({
      error: {
        message: expect.stringContaining('requests per minute'),
        type: 'requests',
        param: null,
        code: 'rate_limit_exceeded',
      },
    })
    const waitMs = Number(refused.headers.get('retry-after-ms'))
    expect(waitMs).toBeGreaterThan(0)
    expect(waitMs).toBeLessThanOrEqual(60_000)
    expect(refused.headers.get('retry-after')).toBe(String(Math.ceil(waitMs / 1000)))
    expect(refused.headers.get('x-ratelimit-reset-requests')).toBe(goDuration(waitMs))
    expect(refused.headers.get('x-should-retry')).toBeNull()
    expect(refused.headers.get('x-request-id')).toMatch(/^req_/)
  })

  it('puts the headers on other tenant routes too', async () => {
    const { key } = await createTenantWithKey({ rpm: 5, daily_tokens: 5_000 })
    const res = await callEdge('/v1/models', { headers: { authorization: `Bearer ${key.key}` } })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('5')
    expect(res.headers.get('x-ratelimit-reset-requests')).toBe('0s')
    expect(res.headers.get('x-budget-limit-tokens')).toBe('5000')
    expect(res.headers.get('x-budget-remaining-tokens')).toBe('5000')
  })

  it('refuses a request no window could ever hold as too large, without inviting a retry', async () => {
    const { key } = await createTenantWithKey({ tpm: 100 })
    const res = await callEdge(chatWith(key.key, normal()))
    expect(res.status).toBe(429)
    expect(await res.json()).toMatchObject({
      error: {
        type: 'tokens',
        code: 'rate_limit_exceeded',
        message: expect.stringContaining('Request too large'),
      },
    })
    expect(res.headers.get('x-should-retry')).toBe('false')
  })

  it('refuses everything with a clear message at a limit of 0', async () => {
    const { key } = await createTenantWithKey({ rpm: 0 })
    const res = await callEdge(chatWith(key.key, normal()))
    expect(res.status).toBe(429)
    const body = await res.json<{ error: { message: string } }>()
    expect(body).toMatchObject({
      error: { type: 'insufficient_quota', code: 'insufficient_quota' },
    })
    expect(body.error.message).toContain('requests per minute limit is 0')
    expect(res.headers.get('retry-after')).not.toBeNull()
    expect(res.headers.get('x-should-retry')).toBe('false')
  })

  it('gives a client that set no maximum what the token limit leaves', async () => {
    const { key } = await createTenantWithKey({ tpm: 1_000 })
    const res = await callEdge(
      chatWith(key.key, chatBody(SCENARIOS.normal), { 'x-request-id': 'flex-1' }),
    )
    expect(res.status).toBe(200)
    const recorded = await recordedRequest('flex-1')
    expect(recorded.body.max_completion_tokens).toBe(1_000 - PROMPT_BOUND)
  })
})

describe('GET /v1/usage', () => {
  it("aggregates the tenant's usage records per day", async () => {
    const { tenantId, key } = await createTenantWithKey({ rpm: 2 })
    for (let i = 0; i < 3; i++) await callEdge(chatWith(key.key, normal({ user: 'end-user-1' })))
    const records = await usageRecords(tenantId, 3)
    expect(records.map((r) => r.end_user)).toEqual(['end-user-1', 'end-user-1', 'end-user-1'])
    const today = new Date().toISOString().slice(0, 10)
    const res = await callEdge(`/v1/usage?start=${today}&end=${today}`, {
      headers: { authorization: `Bearer ${key.key}` },
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      object: 'list',
      start: today,
      end: today,
      data: [
        {
          date: today,
          requests: 3,
          refused_requests: 1,
          prompt_tokens: 2 * NORMAL_USAGE.prompt_tokens,
          completion_tokens: 2 * NORMAL_USAGE.completion_tokens,
          charged_tokens: 2 * NORMAL_USAGE.total_tokens,
          images: 0,
          audio_clips: 0,
          audio_seconds: 0,
        },
      ],
    })
  })

  it('names a malformed date parameter, and a day that does not exist', async () => {
    const { key } = await createTenantWithKey()
    for (const query of ['start=yesterday', 'start=2026-02-30&end=2026-03-31']) {
      const res = await callEdge(`/v1/usage?${query}`, {
        headers: { authorization: `Bearer ${key.key}` },
      })
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ error: { param: 'start' } })
    }
  })

  it('records the media of a request: images, clips and audio seconds as the edge decoded them', async () => {
    const { tenantId, key } = await createTenantWithKey()
    const clip = (seconds: number) => ({
      type: 'input_audio',
      input_audio: { data: toBase64(makeWav(seconds, 22_050)), format: 'wav' },
    })
    const body = chatBody(SCENARIOS.normal)
    const text = body.messages[0]!.content
    const request = {
      ...body,
      messages: [{ role: 'user', content: [{ type: 'text', text }, clip(1.5), clip(2.25)] }],
    }
    const response = await callEdge(chatWith(key.key, request))
    expect(response.status).toBe(200)
    await response.text()
    const [record] = await withTimeout(usageRecords(tenantId, 1), 5_000, 'usage record')
    expect(record).toMatchObject({ images: 0, audio_clips: 2 })
    expect(record!.audio_seconds).toBeCloseTo(3.75, 2)
    const usage = await callEdge('/v1/usage', { headers: { authorization: `Bearer ${key.key}` } })
    const { data } = (await usage.json()) as {
      data: { audio_clips: number; audio_seconds: number }[]
    }
    expect(data[0]!.audio_clips).toBe(2)
    expect(data[0]!.audio_seconds).toBeCloseTo(3.75, 2)
  })
})
