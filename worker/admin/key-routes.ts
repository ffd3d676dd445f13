/**
 * @module
 * Admin routes on API keys: create (`POST /admin/tenants/{id}/keys`; the key is in this response only),
 * list, revoke (`DELETE /admin/keys/{keyId}`), rotate (`POST /admin/keys/{keyId}/rotate`: a new key with
 * the same settings and expiry; the old one is revoked, or expires after `grace_seconds`; a key is rotated
 * once, and a revoked or expired key not at all, so no replacement is born expired) and per-key limits
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
import {
  claimRotation,
  endKey,
  getKey,
  insertKey,
  listKeys,
  newKeyId,
  releaseRotation,
  setKeyLimits,
} from '../tenancy/tenant-repository.ts'
import { adminBody } from './admin-body.ts'
import { createKeySchema, limitsPatchSchema, rotateKeySchema } from './admin-schemas.ts'
import { keyJson } from './serialize.ts'
import { requireTenant } from './tenant-routes.ts'

const KEY_EXISTS = { status: 409, type: 'invalid_request_error', code: 'key_exists' }
const KEY_REVOKED = { status: 409, type: 'invalid_request_error', code: 'key_revoked' }
const KEY_ROTATED = { status: 409, type: 'invalid_request_error', code: 'key_rotated' }
const KEY_EXPIRED = { status: 409, type: 'invalid_request_error', code: 'key_expired' }

export const tenantKeyRoutes = new Hono<AppEnv>()
export const keyRoutes = new Hono<AppEnv>()

async function requireKey(db: D1Database, id: string): Promise<KeyRecord> {
  const key = await getKey(db, id)
  if (!key) throw new NotFoundError(`No API key '${id.slice(0, 100)}'.`)
  return key
}

/**
 * Stores a key (generated unless `secret` is given; its id chosen unless `id` is) and returns it with its
 * one-time secret.
 */
async function issueKey(
  env: Bindings,
  fields: Omit<NewKey, 'hash' | 'prefix'>,
  options: { secret?: string; id?: string } = {},
) {
  const key = options.secret ?? generateApiKey()
  const origin = options.secret === undefined ? 'generated' : 'imported'
  const hashed = { ...fields, hash: await hashApiKey(key), prefix: publicPrefix(key, origin) }
  const record = await insertKey(env.DB, hashed, options.id)
  if (!record)
    throw new GatewayError(KEY_EXISTS, 'This key is already registered.', { param: 'key' })
  await limiterFor(env, fields.tenantId).reload()
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
  return c.json(await issueKey(c.env, fields, { secret: body.key }), 201)
})

tenantKeyRoutes.get('/:id/keys', async (c) => {
  const tenant = await requireTenant(c.env.DB, c.req.param('id'))
  const keys = await listKeys(c.env.DB, tenant.id)
  return c.json({ object: 'list', data: keys.map((key) => keyJson(key)) })
})

keyRoutes.delete('/:keyId', async (c) => {
  const key = await requireKey(c.env.DB, c.req.param('keyId'))
  await endKey(c.env.DB, key.id, { revokedAt: Date.now() })
  await limiterFor(c.env, key.tenantId).reload()
  return c.json(keyJson(await requireKey(c.env.DB, key.id)))
})

/** Throws the 409 that says why `key` cannot be rotated now, if it cannot. */
function refuseRotation(key: KeyRecord, now: number): void {
  // First: a rotation without grace also revokes the key, and the replacement is what the caller needs.
  if (key.replacedBy !== null) {
    const message = `This key was already rotated; rotate its replacement, ${key.replacedBy}.`
    throw new GatewayError(KEY_ROTATED, message)
  }
  if (key.revokedAt !== null) {
    throw new GatewayError(KEY_REVOKED, 'A revoked key cannot be rotated.')
  }
  if (key.expiresAt !== null && key.expiresAt <= now) {
    throw new GatewayError(
      KEY_EXPIRED,
      'An expired key cannot be rotated; issue a new key instead.',
    )
  }
}

keyRoutes.post('/:keyId/rotate', async (c) => {
  const old = await requireKey(c.env.DB, c.req.param('keyId'))
  const { grace_seconds: grace = 0 } = await adminBody(c, rotateKeySchema)
  const now = Date.now()
  refuseRotation(old, now)
  // Claimed in D1 before the replacement exists, so that of two concurrent rotations one is refused.
  const replacementId = newKeyId()
  if (!(await claimRotation(c.env.DB, old.id, replacementId))) {
    refuseRotation(await requireKey(c.env.DB, old.id), now)
    throw new GatewayError(KEY_ROTATED, 'This key is being rotated by another request.')
  }
  const fields = {
    tenantId: old.tenantId,
    name: old.name,
    allowedModels: old.allowedModels,
    limits: old.limits,
    expiresAt: old.expiresAt,
  }
  let fresh
  try {
    fresh = await issueKey(c.env, fields, { id: replacementId })
  } catch (error) {
    await releaseRotation(c.env.DB, old.id, replacementId)
    throw error
  }
  await endKey(
    c.env.DB,
    old.id,
    grace === 0 ? { revokedAt: now } : { expiresAt: now + grace * 1000 },
  )
  await limiterFor(c.env, old.tenantId).reload()
  return c.json({ ...fresh, rotated_from: keyJson(await requireKey(c.env.DB, old.id)) }, 201)
})

keyRoutes.put('/:keyId/limits', async (c) => {
  const key = await requireKey(c.env.DB, c.req.param('keyId'))
  const limits = applyLimitsPatch(key.limits, await adminBody(c, limitsPatchSchema))
  await setKeyLimits(c.env.DB, key.id, limits)
  await limiterFor(c.env, key.tenantId).reload()
  return c.json(keyJson({ ...key, limits }))
})
