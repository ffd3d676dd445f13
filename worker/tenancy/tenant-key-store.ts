/**
 * @module
 * The one seam between authentication and wherever tenant keys live, in two steps. `identify` resolves a
 * presented key to its owner (tenant and key ids), or `null` for a key that was never issued; it never asks
 * the tenant's Durable Object. `authorize` asks it whether the key is usable right now (not revoked, not
 * expired) and with which limits, or `null`. The chat route skips `authorize`: its reservation in the same
 * Durable Object decides the same thing in the same round trip.
 */
import type { KeyGrant, RateSnapshot } from '../durable-objects/limiter-types.ts'
import type { KeyOwner } from './tenant-repository.ts'

export type { KeyOwner }

/** Who a request belongs to. Never carries the key itself. */
export interface Tenant {
  id: string
  name: string
  /** The key's id (public; e.g. `key_…`), for usage records and per-key limits. */
  keyId: string
  /** The models the key may use (its `allowed_models`); `null`: every served model. */
  allowedModels: string[] | null
  /** The tenant's limit state when the key was checked, for the rate-limit headers. */
  rateSnapshot: RateSnapshot
}

export interface TenantKeyStore {
  /** The key's owner, or `null` when no such key was ever issued. */
  identify(key: string): Promise<KeyOwner | null>
  /** The owner's tenant if the key is usable now, else `null` (revoked and expired read the same). */
  authorize(owner: KeyOwner): Promise<Tenant | null>
}

/** The tenant as a Durable Object's grant describes it. */
export function tenantOf(grant: KeyGrant): Tenant {
  return {
    id: grant.tenantId,
    name: grant.tenantName,
    keyId: grant.keyId,
    allowedModels: grant.allowedModels,
    rateSnapshot: grant.snapshot,
  }
}
