/**
 * @module
 * Development key store: exactly one key (`DEV_API_KEY`) maps to the `dev` tenant. The comparison hashes both
 * sides first so the timing-safe compare sees equal lengths and the running time says nothing about the key.
 */
import type { Tenant, TenantKeyStore } from './tenant-key-store.ts'

/** The tenant every request authenticated with `DEV_API_KEY` belongs to. */
export const DEV_TENANT: Tenant = { id: 'dev', name: 'Development tenant' }

const encoder = new TextEncoder()

async function sha256(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', encoder.encode(text))
}

/**
 * Builds the dev store. With no (or an empty) `devKey`, every key is refused.
 * @example
 * const tenant = await createDevKeyStore(env.DEV_API_KEY).lookup(key)
 */
export function createDevKeyStore(devKey: string | undefined): TenantKeyStore {
  const expected = devKey ? sha256(devKey) : null
  return {
    async lookup(key) {
      if (!expected) return null
      const [a, b] = await Promise.all([sha256(key), expected])
      return crypto.subtle.timingSafeEqual(a, b) ? DEV_TENANT : null
    },
  }
}
