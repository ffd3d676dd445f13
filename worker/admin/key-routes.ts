/**
 * @module
 * Admin routes on API keys: create (`POST /admin/tenants/{id}/keys`; the key is in this response only),
 * list, revoke (`DELETE /admin/keys/{keyId}`), rotate (`POST /admin/keys/{keyId}/rotate`: a new key with
 * the same settings; the old one is revoked, or expires after `grace_seconds`) and per-key limits
 * (`PUT /admin/keys/{keyId}/limits`). D1 first, then the tenant's Durable Object reloads: a revoked key is
 * refused from the very next request on.
 */
import { Hono } from 'hono'
import { limiterFor } from '../durable-objects/limiter-stub.ts'
import type { AppEnv, Bindings } from '../env.ts'
import { GatewayError, NotFoundError } from '../errors.ts'
import { generateApiKey, hashApiKey, publicPrefix } from '../tenancy/key-material.ts'
import { applyLimitsPatch } from '../tenancy/limits.ts'
import type { KeyRecord, NewKey } from '../tenancy/tenant-repository.ts'
import { endKey, getKey, insertKey, listKeys, setKeyLimits } from '../tenancy/tenant-repository.ts'
import { adminBody } from './admin-body.ts'
import { createKeySchema, limitsPatchSchema, rotateKeySchema } from './admin-schemas.ts'
import { keyJson } from './serialize.ts'
import { requireTenant } from './tenant-routes.ts'

const KEY_EXISTS = { status: 409, type: 'invalid_request_error', code: 'key_exists' }
const KEY_REVOKED = { status: 409, type: 'invalid_request_error', code: 'key_revoked' }

export const tenantKeyRoutes = new Hono<AppEnv>()
export const keyRoutes = new Hono<AppEnv>()

async function requireKey(db: D1Database, id: string): Promise<KeyRecord> {
  const key = await getKey(db, id)
  if (!key) throw new NotFoundError(`No API key '${id.slice(0, 100)}'.`)
  return key
}

/** Stores a key (generated unless `secret` is given) and returns it with its one-time secret. */
async function issueKey(env: Bindings, fields: Omit<NewKey, 'hash' | 'prefix'>, secret?: string) {
  const key = secret ?? generateApiKey()
  const record = await insertKey(env.DB, {
    ...fields,
    hash: await hashApiKey(key),
    prefix: publicPrefix(key),
  })
  if (!record)
    throw new GatewayError(KEY_EXISTS, 'This key is already registered.', { param: 'key' })
  await limiterFor(env.TENANT_LIMITER, fields.tenantId).reload()
  return { ...keyJson(record), key }
}

tenantKeyRoutes.post('/:id/keys', async (c) => {
  const tenant = await requireTenant(c.env.DB, c.req.param('id'))
  const body = await adminBody(c, createKeySchema)
  const fields = {
    tenantId: tenant.id,
    name: body.name ?? null,
    allowedModels: body.allowed_models ?? null,
    limits: applyLimitsPatch({}, body.limits ?? {}),
    expiresAt: body.expires_at ?? null,
  }
  return c.json(await issueKey(c.env, fields, body.key), 201)
})

tenantKeyRoutes.get('/:id/keys', async (c) => {
  const tenant = await requireTenant(c.env.DB, c.req.param('id'))
  const keys = await listKeys(c.env.DB, tenant.id)
  return c.json({ object: 'list', data: keys.map((key) => keyJson(key)) })
})

keyRoutes.delete('/:keyId', async (c) => {
  const key = await requireKey(c.env.DB, c.req.param('keyId'))
  await endKey(c.env.DB, key.id, { revokedAt: Date.now() })
  await limiterFor(c.env.TENANT_LIMITER, key.tenantId).reload()
  return c.json(keyJson(await requireKey(c.env.DB, key.id)))
})

keyRoutes.post('/:keyId/rotate', async (c) => {
  const old = await requireKey(c.env.DB, c.req.param('keyId'))
  const { grace_seconds: grace = 0 } = await adminBody(c, rotateKeySchema)
  if (old.revokedAt !== null) {
    throw new GatewayError(KEY_REVOKED, 'A revoked key cannot be rotated.')
  }
  const now = Date.now()
  const fresh = await issueKey(c.env, {
    tenantId: old.tenantId,
    name: old.name,
    allowedModels: old.allowedModels,
    limits: old.limits,
    expiresAt: old.expiresAt,
  })
  await endKey(
    c.env.DB,
    old.id,
    grace === 0 ? { revokedAt: now } : { expiresAt: now + grace * 1000 },
  )
  await limiterFor(c.env.TENANT_LIMITER, old.tenantId).reload()
  return c.json({ ...fresh, rotated_from: keyJson(await requireKey(c.env.DB, old.id)) }, 201)
})

keyRoutes.put('/:keyId/limits', async (c) => {
  const key = await requireKey(c.env.DB, c.req.param('keyId'))
  const limits = applyLimitsPatch(key.limits, await adminBody(c, limitsPatchSchema))
  await setKeyLimits(c.env.DB, key.id, limits)
  await limiterFor(c.env.TENANT_LIMITER, key.tenantId).reload()
  return c.json(keyJson({ ...key, limits }))
})
