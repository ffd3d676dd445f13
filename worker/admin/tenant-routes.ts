/**
 * @module
 * Admin routes on tenants: create (`POST /admin/tenants`), list, show, set limits
 * (`PUT /admin/tenants/{id}/limits`: given fields set, `null` removes, absent keeps) and usage per day.
 * Every change is written to D1 first, then the tenant's Durable Object reloads, so it applies to the
 * very next request.
 */
import { Hono } from 'hono'
import { limiterFor } from '../durable-objects/limiter-stub.ts'
import type { AppEnv } from '../env.ts'
import { briefly } from '../../shared/errors.ts'
import { NotFoundError } from '../errors.ts'
import { applyTenantLimitsPatch } from '../tenancy/limits.ts'
import {
  createTenant,
  getKey,
  getTenant,
  listTenants,
  setTenantLimits,
} from '../tenancy/tenant-repository.ts'
import { dailyUsage, usageRange } from '../tenancy/usage-query.ts'
import { adminBody } from './admin-body.ts'
import { createTenantSchema, tenantLimitsPatchSchema } from './admin-schemas.ts'
import { tenantJson } from './serialize.ts'

export const tenantRoutes = new Hono<AppEnv>()

/** The tenant or a 404 naming it. */
export async function requireTenant(db: D1Database, id: string) {
  const tenant = await getTenant(db, id)
  if (!tenant) throw new NotFoundError(`No tenant '${id.slice(0, 100)}'.`)
  return tenant
}

tenantRoutes.post('/', async (c) => {
  const body = await adminBody(c, createTenantSchema)
  const tenant = await createTenant(
    c.env.DB,
    body.name,
    applyTenantLimitsPatch({}, body.limits ?? {}),
  )
  return c.json(tenantJson(tenant), 201)
})

tenantRoutes.get('/', async (c) => {
  const tenants = await listTenants(c.env.DB)
  return c.json({ object: 'list', data: tenants.map(tenantJson) })
})

tenantRoutes.get('/:id', async (c) =>
  c.json(tenantJson(await requireTenant(c.env.DB, c.req.param('id')))),
)

tenantRoutes.put('/:id/limits', async (c) => {
  const tenant = await requireTenant(c.env.DB, c.req.param('id'))
  const patch = await adminBody(c, tenantLimitsPatchSchema)
  const limits = applyTenantLimitsPatch(tenant.limits, patch)
  await setTenantLimits(c.env.DB, tenant.id, limits)
  await limiterFor(c.env, tenant.id).reload()
  return c.json(tenantJson({ ...tenant, limits }))
})

tenantRoutes.get('/:id/usage', async (c) => {
  const tenant = await requireTenant(c.env.DB, c.req.param('id'))
  const range = usageRange(c)
  const keyId = c.req.query('key_id') ?? null
  // Another tenant's key, or none: a 404, not an empty report that reads as "no use".
  if (keyId !== null && (await getKey(c.env.DB, keyId))?.tenantId !== tenant.id) {
    throw new NotFoundError(`No key '${briefly(keyId)}' in this tenant.`, 'not_found', 'key_id')
  }
  const data = await dailyUsage(c.env.DB, tenant.id, range, keyId)
  return c.json({ object: 'list', tenant_id: tenant.id, key_id: keyId, ...range, data })
})
