import { describe, expect, it } from 'vitest'
import { NonceCache, signRequest, verifyRequest } from '../../../shared/signing.ts'

const base = {
  method: 'POST',
  path: '/v1/chat/completions',
  body: '{"model":"x"}',
  secret: 'current-secret',
}

async function check(overrides: Record<string, unknown> = {}, headers?: Record<string, string>) {
  const signed = headers ?? (await signRequest(base))
  return verifyRequest({
    method: base.method,
    path: base.path,
    body: base.body,
    header: (name) => signed[name] ?? null,
    secrets: ['current-secret'],
    nonces: new NonceCache(),
    ...overrides,
  })
}

describe('request signing', () => {
  it('accepts a signed request, including with the previous secret during rotation', async () => {
    expect(await check()).toEqual({ ok: true })
    const old = await signRequest({ ...base, secret: 'previous-secret' })
    expect(await check({ secrets: ['current-secret', 'previous-secret'] }, old)).toEqual({
      ok: true,
    })
    expect(await check({ secrets: ['current-secret'] }, old)).toEqual({
      ok: false,
      reason: 'signature',
    })
  })

  it('refuses tampering with the body, path or method', async () => {
    const signed = await signRequest(base)
    expect(await check({ body: '{"model":"y"}' }, signed)).toMatchObject({ reason: 'digest' })
    expect(await check({ path: '/admin' }, signed)).toMatchObject({ reason: 'signature' })
    expect(await check({ method: 'PUT' }, signed)).toMatchObject({ reason: 'signature' })
    const forged = { ...signed, 'x-gemma-signature': `v1=${'0'.repeat(64)}` }
    expect(await check({}, forged)).toMatchObject({ reason: 'signature' })
  })

  it('refuses clock skew beyond the window, and a replay within it', async () => {
    const stale = await signRequest({ ...base, now: Date.now() - 120_000 })
    expect(await check({}, stale)).toMatchObject({ reason: 'skew' })
    const nonces = new NonceCache()
    const signed = await signRequest(base)
    expect(await check({ nonces }, signed)).toEqual({ ok: true })
    expect(await check({ nonces }, signed)).toMatchObject({ reason: 'replay' })
  })

  it('refuses missing or malformed headers', async () => {
    const signed = await signRequest(base)
    for (const name of Object.keys(signed)) {
      const partial = { ...signed }
      delete partial[name]
      expect((await check({}, partial)).ok).toBe(false)
    }
    expect(await check({}, { ...signed, 'x-gemma-nonce': 'short' })).toMatchObject({
      reason: 'missing',
    })
  })

  it('does not let a forged request consume a nonce', async () => {
    const nonces = new NonceCache()
    const signed = await signRequest(base)
    const forged = { ...signed, 'x-gemma-signature': `v1=${'1'.repeat(64)}` }
    expect(await check({ nonces }, forged)).toMatchObject({ reason: 'signature' })
    expect(await check({ nonces }, signed)).toEqual({ ok: true })
  })

  it('bounds the nonce cache', () => {
    const cache = new NonceCache(10)
    for (let i = 0; i < 50; i++) expect(cache.claim(`nonce-${i}`, Date.now() + 60_000)).toBe(true)
    expect(cache.claim('nonce-49', Date.now() + 60_000)).toBe(false)
  })
})
