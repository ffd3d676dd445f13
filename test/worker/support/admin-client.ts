/**
 * @module
 * The admin API as the workerd tests use it (through the worker's real entry), plus direct reads of the
 * usage records in D1 for the accounting assertions.
 */
import { env } from 'cloudflare:workers'
import { expect } from 'vitest'
import { EDGE, callEdge, withTimeout } from './edge-client.ts'
import { testEnv } from './test-env.ts'

export interface CreatedKey {
  id: string
  key: string
  prefix: string
  tenant_id: string
}

/** Calls `/admin<path>` with the test admin token and a JSON body. */
export function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return callEdge(
    new Request(`${EDGE}/admin${path}`, {
      method,
      headers: {
        authorization: `Bearer ${testEnv.ADMIN_TOKEN}`,
        'content-type': 'application/json',
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  )
}

async function expectJson<T>(response: Response, status: number): Promise<T> {
  const text = await response.text()
  expect(response.status, text).toBe(status)
  return JSON.parse(text) as T
}

/** A fresh tenant (fresh Durable Object, so tests cannot disturb one another) and one key for it. */
export async function createTenantWithKey(
  limits: Record<string, unknown> = {},
  keyBody: Record<string, unknown> = {},
): Promise<{ tenantId: string; key: CreatedKey }> {
  const name = `tenant-${crypto.randomUUID()}`
  const tenant = await expectJson<{ id: string }>(
    await admin('POST', '/tenants', { name, limits }),
    201,
  )
  const key = await expectJson<CreatedKey>(
    await admin('POST', `/tenants/${tenant.id}/keys`, keyBody),
    201,
  )
  return { tenantId: tenant.id, key }
}

export async function setLimits(tenantId: string, limits: Record<string, unknown>) {
  await expectJson(await admin('PUT', `/tenants/${tenantId}/limits`, limits), 200)
}

export interface RecordRow {
  id: string
  key_id: string
  status: number
  outcome: string
  prompt_tokens: number
  completion_tokens: number
  charged_tokens: number
  usage_source: string
  end_user: string | null
  ttft_ms: number | null
  latency_ms: number | null
  images: number
  audio_clips: number
  audio_seconds: number | null
}

/** The tenant's usage records, once at least `count` exist (they are written after each request ends). */
export function usageRecords(tenantId: string, count: number): Promise<RecordRow[]> {
  const poll = async () => {
    for (;;) {
      const { results } = await env.DB.prepare('SELECT * FROM usage_records WHERE tenant_id = ?')
        .bind(tenantId)
        .all<RecordRow>()
      if (results.length >= count) return results
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }
  return withTimeout(poll(), 5_000, `${count} usage records of ${tenantId}`)
}

/** A chat request with `key`. */
export function chatWith(key: string, body: unknown, headers: Record<string, string> = {}) {
  return new Request(`${EDGE}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
}
