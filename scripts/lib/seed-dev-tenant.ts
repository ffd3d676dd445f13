/**
 * @module
 * Seeds the development tenant through the admin API, as an operator would: finds or creates the tenant
 * `development`, then either imports `DEV_API_KEY` (so that exact key works) or issues a fresh key and
 * revokes the keys earlier runs issued. Local state persists between runs, so this is idempotent.
 */
import { AdminApiError } from './admin-client.ts'
import type { AdminClient } from './admin-client.ts'

export const DEV_TENANT_NAME = 'development'
const ISSUED_KEY_NAME = 'npm start'
const IMPORTED_KEY_NAME = 'DEV_API_KEY'

interface Listed<T> {
  data: T[]
}

interface KeyInfo {
  id: string
  name: string | null
  status: string
}

/** The development tenant's id, creating the tenant if needed. */
async function devTenantId(admin: AdminClient): Promise<string> {
  const tenants = await admin.request<Listed<{ id: string; name: string }>>('GET', '/tenants')
  const existing = tenants.data.find((tenant) => tenant.name === DEV_TENANT_NAME)
  if (existing) return existing.id
  return (await admin.request<{ id: string }>('POST', '/tenants', { name: DEV_TENANT_NAME })).id
}

/**
 * Returns the key clients should use: `devApiKey` when given, else a new one.
 * @example const { key } = await seedDevTenant(admin, process.env.DEV_API_KEY)
 */
export async function seedDevTenant(
  admin: AdminClient,
  devApiKey?: string,
): Promise<{ tenantId: string; key: string }> {
  const tenantId = await devTenantId(admin)
  if (devApiKey) {
    try {
      await admin.request('POST', `/tenants/${tenantId}/keys`, {
        name: IMPORTED_KEY_NAME,
        key: devApiKey,
      })
    } catch (error) {
      // 409: imported by an earlier run. Anything else (e.g. a key too short) is the user's to fix, and
      // the API's message names its field (`key`), not the variable the user set.
      if (error instanceof AdminApiError && error.status === 409)
        return { tenantId, key: devApiKey }
      throw new Error(`DEV_API_KEY was refused: ${(error as Error).message}`, { cause: error })
    }
    return { tenantId, key: devApiKey }
  }
  const keys = await admin.request<Listed<KeyInfo>>('GET', `/tenants/${tenantId}/keys`)
  for (const old of keys.data) {
    if (old.name === ISSUED_KEY_NAME && old.status === 'active') {
      await admin.request('DELETE', `/keys/${old.id}`)
    }
  }
  const created = await admin.request<{ key: string }>('POST', `/tenants/${tenantId}/keys`, {
    name: ISSUED_KEY_NAME,
  })
  return { tenantId, key: created.key }
}
