/**
 * @module
 * How tenants and keys look in admin responses: snake_case, times in Unix seconds (as OpenAI writes
 * `created`), a key's `status` spelled out. A key's hash never leaves D1; the key itself is added only to
 * the creation response.
 */
import type { KeyRecord, TenantRecord } from '../tenancy/tenant-repository.ts'

const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000))

export function tenantJson(tenant: TenantRecord) {
  return {
    id: tenant.id,
    object: 'tenant',
    name: tenant.name,
    limits: tenant.limits,
    created_at: seconds(tenant.createdAt),
  }
}

export function keyJson(key: KeyRecord, now = Date.now()) {
  const status =
    key.revokedAt !== null
      ? 'revoked'
      : key.expiresAt !== null && now >= key.expiresAt
        ? 'expired'
        : 'active'
  return {
    id: key.id,
    object: 'api_key',
    tenant_id: key.tenantId,
    prefix: key.prefix,
    name: key.name,
    status,
    allowed_models: key.allowedModels,
    limits: key.limits,
    created_at: seconds(key.createdAt),
    expires_at: seconds(key.expiresAt),
    revoked_at: seconds(key.revokedAt),
    replaced_by: key.replacedBy,
  }
}
