/**
 * @module
 * The one seam between authentication and wherever tenant keys live. The dev store accepts a single key from
 * the environment; the tenancy issue swaps in a hashed, revocable store behind the same interface.
 */

/** Who a request belongs to. Never carries the key itself. */
export interface Tenant {
  id: string
  name: string
}

/** Resolves an API key to its tenant, or `null` when the key is unknown, revoked or expired. */
export interface TenantKeyStore {
  lookup(key: string): Promise<Tenant | null>
}
