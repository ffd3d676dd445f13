/**
 * @module
 * A tenant's configuration as its Durable Object holds it: the tenant's limits and every key's status,
 * loaded from D1 (the system of record) and reloaded when the admin API changes them, which is what makes
 * a revocation effective for the very next request. Also: which limit sets apply to one request.
 */
import { isUnlimited } from '../tenancy/limits.ts'
import type { KeyRecord, TenantRecord } from '../tenancy/tenant-repository.ts'
import { getTenant, listKeys } from '../tenancy/tenant-repository.ts'
import type { Scope } from './ledger.ts'
import type { KeyGrant, RateSnapshot } from './limiter-types.ts'

export interface TenantConfig {
  tenant: TenantRecord
  keys: Map<string, KeyRecord>
}

/** The tenant and its keys from D1; `null` when the tenant does not exist. */
export async function loadTenantConfig(
  db: D1Database,
  tenantId: string,
): Promise<TenantConfig | null> {
  const [tenant, keys] = await Promise.all([getTenant(db, tenantId), listKeys(db, tenantId)])
  if (!tenant) return null
  return { tenant, keys: new Map(keys.map((key) => [key.id, key])) }
}

/** The key if it may be used at `now`: known, not revoked, not expired. */
export function usableKey(config: TenantConfig, keyId: string, now: number): KeyRecord | null {
  const key = config.keys.get(keyId)
  if (!key || key.revokedAt !== null) return null
  if (key.expiresAt !== null && now >= key.expiresAt) return null
  return key
}

/** Whether `key` may use `model` (model ids compare case-insensitively, as the edge's model check does). */
export function modelAllowed(key: Pick<KeyRecord, 'allowedModels'>, model: string): boolean {
  const lower = model.toLowerCase()
  return key.allowedModels === null || key.allowedModels.some((m) => m.toLowerCase() === lower)
}

/** What the worker learns about a usable key: its tenant, its model list and the limits' state. */
export function grantOf(config: TenantConfig, key: KeyRecord, snapshot: RateSnapshot): KeyGrant {
  return {
    tenantId: config.tenant.id,
    tenantName: config.tenant.name,
    keyId: key.id,
    allowedModels: key.allowedModels,
    snapshot,
  }
}

/** The limit sets a request is held to: the tenant's, the key's (if any), the end user's (if any). */
export function scopesFor(config: TenantConfig, key: KeyRecord, user: string | null): Scope[] {
  const { per_user: perUser, ...tenantLimits } = config.tenant.limits
  const scopes: Scope[] = [{ id: 'tenant', kind: 'tenant', limits: tenantLimits }]
  if (!isUnlimited(key.limits))
    scopes.push({ id: `key:${key.id}`, kind: 'key', limits: key.limits })
  if (user !== null && perUser && !isUnlimited(perUser)) {
    scopes.push({ id: `user:${user}`, kind: 'user', limits: perUser })
  }
  return scopes
}
