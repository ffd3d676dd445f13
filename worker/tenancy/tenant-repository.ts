/**
 * @module
 * D1 access for tenants and API keys (the system of record). Plain SQL over prepared statements; rows are
 * mapped to typed records here and nowhere else. Times are Unix milliseconds.
 */
import type { Limits, TenantLimits } from './limits.ts'
import { parseStoredLimits } from './limits.ts'
import { newId } from './key-material.ts'

export interface TenantRecord {
  id: string
  name: string
  limits: TenantLimits
  createdAt: number
}

export interface KeyRecord {
  id: string
  tenantId: string
  prefix: string
  name: string | null
  /** `null`: every served model. */
  allowedModels: string[] | null
  limits: Limits
  createdAt: number
  expiresAt: number | null
  revokedAt: number | null
  /** The key issued in its place by a rotation; a key is rotated at most once. */
  replacedBy: string | null
}

export interface NewKey {
  tenantId: string
  hash: string
  prefix: string
  name: string | null
  allowedModels: string[] | null
  limits: Limits
  expiresAt: number | null
}

interface TenantRow {
  id: string
  name: string
  limits: string
  created_at: number
}

interface KeyRow {
  id: string
  tenant_id: string
  prefix: string
  name: string | null
  allowed_models: string | null
  limits: string
  created_at: number
  expires_at: number | null
  revoked_at: number | null
  replaced_by: string | null
}

const KEY_COLUMNS =
  'id, tenant_id, prefix, name, allowed_models, limits, created_at, expires_at, revoked_at, replaced_by'

function toTenant(row: TenantRow): TenantRecord {
  return {
    id: row.id,
    name: row.name,
    limits: parseStoredLimits(row.limits),
    createdAt: row.created_at,
  }
}

function toKey(row: KeyRow): KeyRecord {
  // Keys have no per-user set of their own.
  const limits: Limits = parseStoredLimits(row.limits)
  delete (limits as TenantLimits).per_user
  return {
    id: row.id,
    tenantId: row.tenant_id,
    prefix: row.prefix,
    name: row.name,
    allowedModels: row.allowed_models ? (JSON.parse(row.allowed_models) as string[]) : null,
    limits,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    replacedBy: row.replaced_by,
  }
}

export async function createTenant(
  db: D1Database,
  name: string,
  limits: TenantLimits,
): Promise<TenantRecord> {
  const tenant = { id: newId('ten'), name, limits, createdAt: Date.now() }
  await db
    .prepare('INSERT INTO tenants (id, name, limits, created_at) VALUES (?, ?, ?, ?)')
    .bind(tenant.id, name, JSON.stringify(limits), tenant.createdAt)
    .run()
  return tenant
}

export async function getTenant(db: D1Database, id: string): Promise<TenantRecord | null> {
  const row = await db.prepare('SELECT * FROM tenants WHERE id = ?').bind(id).first<TenantRow>()
  return row ? toTenant(row) : null
}

export async function listTenants(db: D1Database): Promise<TenantRecord[]> {
  const { results } = await db.prepare('SELECT * FROM tenants ORDER BY created_at').all<TenantRow>()
  return results.map(toTenant)
}

export async function setTenantLimits(db: D1Database, id: string, limits: TenantLimits) {
  await db
    .prepare('UPDATE tenants SET limits = ? WHERE id = ?')
    .bind(JSON.stringify(limits), id)
    .run()
}

/** A fresh key id, for a rotation that names the replacement before inserting it. */
export const newKeyId = () => newId('key')

/** Inserts a key; `null` when a key with the same hash already exists (an import of a known key). */
export async function insertKey(
  db: D1Database,
  key: NewKey,
  id = newKeyId(),
): Promise<KeyRecord | null> {
  const record: KeyRecord = {
    id,
    tenantId: key.tenantId,
    prefix: key.prefix,
    name: key.name,
    allowedModels: key.allowedModels,
    limits: key.limits,
    createdAt: Date.now(),
    expiresAt: key.expiresAt,
    revokedAt: null,
    replacedBy: null,
  }
  const result = await db
    .prepare(
      `INSERT INTO api_keys (id, tenant_id, hash, prefix, name, allowed_models, limits, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
    )
    .bind(
      record.id,
      record.tenantId,
      key.hash,
      record.prefix,
      record.name,
      record.allowedModels ? JSON.stringify(record.allowedModels) : null,
      JSON.stringify(record.limits),
      record.createdAt,
      record.expiresAt,
    )
    .run()
  return result.meta.changes === 1 ? record : null
}

export async function getKey(db: D1Database, id: string): Promise<KeyRecord | null> {
  const row = await db
    .prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = ?`)
    .bind(id)
    .first<KeyRow>()
  return row ? toKey(row) : null
}

export async function listKeys(db: D1Database, tenantId: string): Promise<KeyRecord[]> {
  const { results } = await db
    .prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE tenant_id = ? ORDER BY created_at`)
    .bind(tenantId)
    .all<KeyRow>()
  return results.map(toKey)
}

/** Sets `revoked_at` (keeps an earlier revocation time) and/or shortens `expires_at`. */
/**
 * Marks `id` as replaced by `replacementId`, only if it is not revoked and not replaced yet: `false` when
 * another rotation (or a revocation) came first. Two concurrent rotations then cannot both succeed.
 */
export async function claimRotation(db: D1Database, id: string, replacementId: string) {
  const result = await db
    .prepare(
      'UPDATE api_keys SET replaced_by = ? WHERE id = ? AND replaced_by IS NULL AND revoked_at IS NULL',
    )
    .bind(replacementId, id)
    .run()
  return result.meta.changes === 1
}

/** Undoes `claimRotation` when the replacement could not be stored. */
export async function releaseRotation(db: D1Database, id: string, replacementId: string) {
  await db
    .prepare('UPDATE api_keys SET replaced_by = NULL WHERE id = ? AND replaced_by = ?')
    .bind(id, replacementId)
    .run()
}

export async function endKey(
  db: D1Database,
  id: string,
  end: { revokedAt?: number; expiresAt?: number },
) {
  await db
    .prepare(
      `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?),
         expires_at = CASE WHEN ? IS NULL THEN expires_at ELSE MIN(COALESCE(expires_at, ?), ?) END
       WHERE id = ?`,
    )
    .bind(
      end.revokedAt ?? null,
      end.expiresAt ?? null,
      end.expiresAt ?? null,
      end.expiresAt ?? null,
      id,
    )
    .run()
}

export async function setKeyLimits(db: D1Database, id: string, limits: Limits) {
  await db
    .prepare('UPDATE api_keys SET limits = ? WHERE id = ?')
    .bind(JSON.stringify(limits), id)
    .run()
}

/** The fast-path record of a key: which tenant and key id its hash belongs to. */
export interface KeyOwner {
  tenantId: string
  keyId: string
}

export async function findKeyOwner(db: D1Database, hash: string): Promise<KeyOwner | null> {
  const row = await db
    .prepare('SELECT tenant_id, id FROM api_keys WHERE hash = ?')
    .bind(hash)
    .first<{ tenant_id: string; id: string }>()
  return row ? { tenantId: row.tenant_id, keyId: row.id } : null
}
