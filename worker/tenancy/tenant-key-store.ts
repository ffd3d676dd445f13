/**
 * @module
 * The one seam between authentication and wherever tenant keys live: `lookup` resolves a presented key to
 * its tenant, or `null` for an unknown, revoked or expired key (the same answer for all three).
 */
import type { RateSnapshot } from '../durable-objects/limiter-types.ts'

/** Who a request belongs to. Never carries the key itself. */
export interface Tenant {
  id: string
  name: string
  /** The key's id (public; e.g. `key_…`), for usage records and per-key limits. */
  keyId: string
  /** Models this key may use; `null`: all. */
  allowedModels: string[] | null
  /** The tenant's limit state when the key was checked, for the rate-limit headers. */
  rateSnapshot: RateSnapshot
}

/** Resolves an API key to its tenant, or `null` when the key is unknown, revoked or expired. */
export interface TenantKeyStore {
  lookup(key: string): Promise<Tenant | null>
}
