/**
 * @module
 * The admin API and key life cycle through the worker's real entry: the admin token, 400s naming the
 * field, keys shown once and stored as hashes, revocation and expiry effective for the very next request,
 * rotation, imported keys, per-tenant usage, and that no key ever reaches a log line or an error body.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TenantLimiter } from '../../worker/durable-objects/tenant-limiter.ts'
import app from '../../worker/index.ts'
import { claimRotation, getKey, releaseRotation } from '../../worker/tenancy/tenant-repository.ts'
import { EDGE, callEdge, chatBody, withTimeout } from './support/edge-client.ts'
import { admin, chatWith, createTenantWithKey, setLimits } from './support/admin-client.ts'
import { SCENARIOS } from './support/scenarios.ts'
import { testEnv } from './support/test-env.ts'

const body = chatBody(SCENARIOS.normal, { max_completion_tokens: 10 })
const models = (key: string) =>
  callEdge('/v1/models', { headers: { authorization: `Bearer ${key}` } })

/** The body every refused key gets: the same whether the key is unknown, revoked or expired. */
const REFUSED = {
  error: {
    message: 'Incorrect API key provided.',
    type: 'invalid_request_error',
    param: null,
    code: 'invalid_api_key',
  },
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('admin authentication', () => {
  it.each([
    ['no token', {}],
    ['a wrong token', { authorization: 'Bearer not-the-admin-token' }],
    ['a tenant key', { authorization: 'Bearer sk-test-key-0123456789' }],
  ])('refuses %s with 401', async (_what, headers) => {
    const res = await callEdge('/admin/tenants', { headers })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_admin_token' } })
  })

  it('refuses everything when ADMIN_TOKEN is unset', async () => {
    const ctx = createExecutionContext()
    const request = new Request(`${EDGE}/admin/tenants`, { headers: { authorization: 'Bearer x' } })
    const res = await app.fetch(request, { ...env, ADMIN_TOKEN: undefined }, ctx)
    await waitOnExecutionContext(ctx)
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({
      error: { message: expect.stringContaining('disabled') },
    })
  })
})

describe('malformed admin bodies', () => {
  it.each([
    ['a missing name', {}, 'name', 'is required'],
    ['a negative limit', { name: 'x', limits: { rpm: -1 } }, 'limits.rpm', 'must be 0 or more'],
    ['a fractional limit', { name: 'x', limits: { tpm: 1.5 } }, 'limits.tpm', 'whole number'],
    ['an unknown limit', { name: 'x', limits: { rmp: 5 } }, 'limits.rmp', 'not a known field'],
    [
      'a per-user typo',
      { name: 'x', limits: { per_user: { rpm: 'a' } } },
      'limits.per_user.rpm',
      'must be number',
    ],
  ])('answers %s with 400 naming the field', async (_what, payload, param, text) => {
    const res = await admin('POST', '/tenants', payload)
    expect(res.status).toBe(400)
    const { error } = await res.json<{ error: { param: string; message: string } }>()
    expect(error.param).toBe(param)
    expect(error.message).toContain(param)
    expect(error.message).toContain(text)
  })

  it('names expires_at when it is in the past, and refuses invalid JSON', async () => {
    const { tenantId } = await createTenantWithKey()
    const past = await admin('POST', `/tenants/${tenantId}/keys`, { expires_at: 1_000 })
    expect(await past.json()).toMatchObject({
      error: { param: 'expires_at', message: expect.stringContaining('future') },
    })
    // A date without a time is a string, but not the date-time asked for: say that, not "number | string".
    const dateOnly = await admin('POST', `/tenants/${tenantId}/keys`, { expires_at: '2027-01-01' })
    expect(await dateOnly.json()).toMatchObject({
      error: { param: 'expires_at', message: expect.stringContaining('ISO 8601 date-time') },
    })
    // Mistakes that would otherwise be taken: milliseconds for seconds (an expiry in year 58,000), a
    // day that does not exist (read as March 2), a date-time without a zone (say that it needs one).
    for (const [expires_at, text] of [
      [Date.now() + 86_400_000, 'looks like milliseconds'],
      ['2027-02-30T00:00:00Z', 'not a calendar date'],
      ['2027-01-01T00:00:00', 'with a time zone'],
    ] as const) {
      const res = await admin('POST', `/tenants/${tenantId}/keys`, { expires_at })
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({
        error: { param: 'expires_at', message: expect.stringContaining(text) },
      })
    }
    const broken = await callEdge('/admin/tenants', {
      method: 'POST',
      headers: { authorization: `Bearer ${testEnv.ADMIN_TOKEN}` },
      body: '{"name":',
    })
    expect(await broken.json()).toMatchObject({ error: { code: 'invalid_json' } })
  })

  it('answers 404 for an unknown tenant or key', async () => {
    expect((await admin('PUT', '/tenants/ten_nope/limits', { rpm: 1 })).status).toBe(404)
    expect((await admin('DELETE', '/keys/key_nope')).status).toBe(404)
  })
})

describe('keys', () => {
  it('shows a key once, lists only its prefix, and patches limits field by field', async () => {
    const { tenantId, key } = await createTenantWithKey({}, { name: 'mobile app' })
    expect(key.key).toMatch(/^gk_[A-Za-z0-9_-]{43}$/)
    expect(key.key.startsWith(key.prefix)).toBe(true)
    const listing = await (await admin('GET', `/tenants/${tenantId}/keys`)).text()
    expect(listing).not.toContain(key.key)
    expect(JSON.parse(listing)).toMatchObject({
      data: [{ id: key.id, name: 'mobile app', status: 'active' }],
    })
    const stored = await env.DB.prepare('SELECT * FROM api_keys WHERE id = ?').bind(key.id).first()
    expect(JSON.stringify(stored)).not.toContain(key.key)
    await setLimits(tenantId, { rpm: 10 })
    await setLimits(tenantId, { tpm: 500, per_user: { rpm: 2 } })
    const res = await admin('PUT', `/tenants/${tenantId}/limits`, { rpm: null })
    expect(await res.json()).toMatchObject({ limits: { tpm: 500, per_user: { rpm: 2 } } })
  })

  it('refuses a revoked key from the very next request, exactly like an unknown one', async () => {
    const { key } = await createTenantWithKey()
    expect((await callEdge(chatWith(key.key, body))).status).toBe(200)
    const revoked = await admin('DELETE', `/keys/${key.id}`)
    expect(await revoked.json()).toMatchObject({
      id: key.id,
      status: 'revoked',
      revoked_at: expect.any(Number),
    })
    const after = await callEdge(chatWith(key.key, body))
    expect(after.status).toBe(401)
    expect(await after.json()).toEqual(REFUSED)
    const unknown = await callEdge(chatWith(`${key.key.slice(0, -1)}x`, body))
    expect(await unknown.json()).toEqual(REFUSED)
  })

  it('gives a revoked key the 401 whatever else is wrong, and fetches none of its images', async () => {
    const { key } = await createTenantWithKey()
    const imageUrl = 'https://images.example.com/cat.jpg'
    const withImage = {
      ...body,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: imageUrl } },
          ],
        },
      ],
    }
    const badBodies: [string, unknown][] = [
      ['no messages', { model: 'gemma-3n-e2b-it' }],
      ['unknown model', { ...body, model: 'gpt-4o' }],
      [
        'bad image',
        { ...withImage, messages: [{ role: 'user', content: [{ type: 'image_url' }] }] },
      ],
    ]
    // While the key works, each body is refused for what it is.
    for (const [, bad] of badBodies)
      expect((await callEdge(chatWith(key.key, bad))).status).not.toBe(401)
    await admin('DELETE', `/keys/${key.id}`)
    const fetchSpy = vi.spyOn(globalThis, 'fetch')
    for (const [what, bad] of badBodies) {
      const res = await callEdge(chatWith(key.key, bad))
      expect(res.status, what).toBe(401)
      expect(await res.json()).toEqual(REFUSED)
    }
    const notJson = new Request(chatWith(key.key, body), { body: '{"model": ' })
    expect((await callEdge(notJson)).status).toBe(401)
    const image = await callEdge(chatWith(key.key, withImage))
    expect(image.status).toBe(401)
    const fetched = fetchSpy.mock.calls.map(([input]) =>
      String(input instanceof Request ? input.url : input),
    )
    expect(fetched.filter((url) => url.startsWith('https://images.example.com'))).toEqual([])
  })

  it('authorizes a text chat in its reservation: one Durable Object call before the node', async () => {
    const { key } = await createTenantWithKey()
    const authorize = vi.spyOn(TenantLimiter.prototype, 'authorize')
    const reserve = vi.spyOn(TenantLimiter.prototype, 'reserve')
    expect((await models(key.key)).status).toBe(200) // other routes ask at the door
    expect(authorize).toHaveBeenCalledTimes(1)
    const res = await callEdge(chatWith(key.key, body))
    expect(res.status).toBe(200)
    await res.text()
    expect(reserve).toHaveBeenCalledTimes(1)
    expect(authorize).toHaveBeenCalledTimes(1)
  })

  it('refuses a key once it has expired', async () => {
    const { tenantId } = await createTenantWithKey()
    const expiresAt = Date.now() + 1_000
    const res = await admin('POST', `/tenants/${tenantId}/keys`, {
      expires_at: new Date(expiresAt).toISOString(),
    })
    const { key } = await res.json<{ key: string }>()
    expect((await models(key)).status).toBe(200)
    await withTimeout(
      new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 20)),
      3_000,
      'expiry',
    )
    const expired = await models(key)
    expect(expired.status).toBe(401)
    expect(await expired.json()).toEqual(REFUSED)
  })

  it('rotates a key: the new one works, the old one stops (or keeps a grace period)', async () => {
    const { key } = await createTenantWithKey({}, { allowed_models: ['gemma-3n-e2b-it'] })
    const graceful = await admin('POST', `/keys/${key.id}/rotate`, { grace_seconds: 600 })
    const second = await graceful.json<{ key: string; id: string; allowed_models: string[] }>()
    expect(second.allowed_models).toEqual(['gemma-3n-e2b-it'])
    expect((await models(key.key)).status).toBe(200)
    const hard = await (
      await admin('POST', `/keys/${second.id}/rotate`)
    ).json<{
      key: string
      id: string
    }>()
    expect((await models(second.key)).status).toBe(401)
    expect((await models(hard.key)).status).toBe(200)
    // Rotated without grace, the key is also revoked: a retry is told which key replaced it.
    const retried = await admin('POST', `/keys/${second.id}/rotate`)
    expect(retried.status).toBe(409)
    expect(await retried.json()).toMatchObject({
      error: { code: 'key_rotated', message: expect.stringContaining(hard.id) },
    })
  })

  it("gives the replacement the key's own expiry, and rotates a key only once", async () => {
    const expiresAt = Math.floor(Date.now() / 1000) + 7 * 24 * 3600
    const { key } = await createTenantWithKey({}, { expires_at: expiresAt })
    const first = await admin('POST', `/keys/${key.id}/rotate`, { grace_seconds: 3600 })
    expect(first.status).toBe(201)
    const replacement = await first.json<{
      id: string
      key: string
      expires_at: number
      rotated_from: { replaced_by: string; expires_at: number }
    }>()
    // The grace period ends the old key only; the replacement keeps the week it was given.
    expect(replacement.expires_at).toBe(expiresAt)
    expect(replacement.rotated_from.replaced_by).toBe(replacement.id)
    expect(replacement.rotated_from.expires_at).toBeLessThan(expiresAt)
    // A retried rotation (the CLI run twice, say) must not mint a key that dies with the grace period.
    const again = await admin('POST', `/keys/${key.id}/rotate`, { grace_seconds: 3600 })
    expect(again.status).toBe(409)
    expect(await again.json()).toMatchObject({
      error: { code: 'key_rotated', message: expect.stringContaining(replacement.id) },
    })
    // Two rotations of the replacement at once: one wins, the other is refused.
    const racing = await Promise.all(
      [1, 2].map(() => admin('POST', `/keys/${replacement.id}/rotate`, { grace_seconds: 60 })),
    )
    expect(racing.map((res) => res.status).sort()).toEqual([201, 409])
    const listed = await admin('GET', `/tenants/${key.tenant_id}/keys`)
    const keys = (await listed.json<{ data: { id: string; replaced_by: string | null }[] }>()).data
    expect(keys.filter((k) => k.replaced_by === null)).toHaveLength(1)
    expect((await models(replacement.key)).status).toBe(200)
  })

  it('lets one rotation claim a key, whatever the interleaving', async () => {
    const { key } = await createTenantWithKey()
    // The check before the claim can pass in two requests at once; the claim itself is the guard.
    expect(await claimRotation(env.DB, key.id, 'key_first')).toBe(true)
    expect(await claimRotation(env.DB, key.id, 'key_second')).toBe(false)
    await releaseRotation(env.DB, key.id, 'key_second') // not the holder: changes nothing
    expect((await getKey(env.DB, key.id))?.replacedBy).toBe('key_first')
    await releaseRotation(env.DB, key.id, 'key_first')
    expect(await claimRotation(env.DB, key.id, 'key_third')).toBe(true)
    const revoked = (await createTenantWithKey()).key
    expect((await admin('DELETE', `/keys/${revoked.id}`)).status).toBe(200)
    expect(await claimRotation(env.DB, revoked.id, 'key_fourth')).toBe(false)
  })

  it('refuses to rotate an expired key', async () => {
    const expiresAt = Date.now() + 1_000
    const { key } = await createTenantWithKey({}, { expires_at: new Date(expiresAt).toISOString() })
    await withTimeout(
      new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 20)),
      3_000,
      'expiry',
    )
    const res = await admin('POST', `/keys/${key.id}/rotate`)
    expect(res.status).toBe(409)
    expect(await res.json()).toMatchObject({ error: { code: 'key_expired' } })
  })

  it('imports a given key once (DEV_API_KEY) and refuses models the key may not use', async () => {
    const { tenantId } = await createTenantWithKey()
    const dev = 'sk-dev-imported-key-123456'
    const payload = { key: dev, allowed_models: ['some-other-model'] }
    const created = await admin('POST', `/tenants/${tenantId}/keys`, payload)
    expect(created.status).toBe(201)
    // Its listed prefix gives away a quarter of it at most (26 characters: 6), not 11 of them, and so
    // does an imported key that looks like a generated one.
    expect((await created.json<{ prefix: string }>()).prefix).toBe('sk-dev')
    const lookalike = await admin('POST', `/tenants/${tenantId}/keys`, { key: 'gk_abcdefghijklm' })
    expect((await lookalike.json<{ prefix: string }>()).prefix).toBe('gk_a')
    const again = await admin('POST', `/tenants/${tenantId}/keys`, { key: dev })
    expect(again.status).toBe(409)
    const res = await callEdge(chatWith(dev, body))
    expect(res.status).toBe(403)
    expect(await res.json()).toMatchObject({ error: { code: 'model_not_allowed', param: 'model' } })
    // What the key may not use, it does not see either.
    const listed = await models(dev)
    expect(listed.status).toBe(200)
    expect(await listed.json()).toEqual({ object: 'list', data: [] })
    const headers = { authorization: `Bearer ${dev}` }
    const retrieved = await callEdge('/v1/models/gemma-3n-e2b-it', { headers })
    expect(retrieved.status).toBe(404)
  })
})

describe('admin usage', () => {
  it("reports one key's usage only for a key of that tenant", async () => {
    const a = await createTenantWithKey()
    const b = await createTenantWithKey()
    const own = await admin('GET', `/tenants/${a.tenantId}/usage?key_id=${a.key.id}`)
    expect(own.status).toBe(200)
    expect(await own.json()).toMatchObject({ key_id: a.key.id })
    for (const keyId of [b.key.id, 'key_nope']) {
      const res = await admin('GET', `/tenants/${a.tenantId}/usage?key_id=${keyId}`)
      expect(res.status).toBe(404)
      expect(await res.json()).toMatchObject({ error: { param: 'key_id' } })
    }
  })
})

describe('secrets stay out of logs and error bodies', () => {
  it('never logs a key, whatever happens to the request', async () => {
    const lines: string[] = []
    for (const method of ['log', 'error', 'warn', 'info'] as const) {
      vi.spyOn(console, method).mockImplementation(
        (...args: unknown[]) => void lines.push(args.map(String).join(' ')),
      )
    }
    const { tenantId, key } = await createTenantWithKey({ rpm: 1 })
    const bodies = [
      await (await callEdge(chatWith(key.key, body))).text(),
      await (await callEdge(chatWith(key.key, body))).text(),
      await (await callEdge(chatWith(`${key.key}zz`, body))).text(),
    ]
    await admin('DELETE', `/keys/${key.id}`)
    bodies.push(await (await callEdge(chatWith(key.key, body))).text())
    bodies.push(await (await admin('GET', `/tenants/${tenantId}/usage`)).text())
    expect(lines.length).toBeGreaterThan(0)
    for (const text of [...lines, ...bodies]) expect(text).not.toContain(key.key.slice(3))
  })
})
