/**
 * @module
 * The production key store. A presented key is hashed (SHA-256), the hash is looked up in the isolate's
 * memory (owner-cache.ts), then KV, then D1 (on a miss, which then fills KV), and the tenant's Durable
 * Object decides whether the key is usable right now (`authorize`, or the chat route's reservation). KV
 * only maps a hash to ids, which never change, so a stale KV entry cannot revive a revoked key: revocation
 * lives in the Durable Object, which reloads from D1 when the admin API changes it.
 * Comparing hashes, not keys, is what makes the lookup timing-safe: timing reveals nothing about the key.
 */
import { limiterFor } from '../durable-objects/limiter-stub.ts'
import type { Bindings } from '../env.ts'
import { hashApiKey } from './key-material.ts'
import { OwnerCache } from './owner-cache.ts'
import { tenantOf } from './tenant-key-store.ts'
import type { TenantKeyStore } from './tenant-key-store.ts'
import type { KeyOwner } from './tenant-repository.ts'
import { findKeyOwner } from './tenant-repository.ts'

/** KV keeps an owner entry this long after its last fill (ids never change; this only bounds KV size). */
const KV_TTL_SECONDS = 24 * 60 * 60

/** Per isolate: room for every active key of a large fleet; an hour bounds how long a deleted one lingers. */
const owners = new OwnerCache(10_000, 60 * 60 * 1000)

const kvKey = (hash: string) => `key-owner:${hash}`

async function ownerOf(env: Bindings, hash: string): Promise<KeyOwner | null> {
  const remembered = owners.get(hash)
  if (remembered) return remembered
  let owner = await env.KEY_CACHE.get<KeyOwner>(kvKey(hash), 'json')
  if (!owner) {
    owner = await findKeyOwner(env.DB, hash)
    if (!owner) return null
    await env.KEY_CACHE.put(kvKey(hash), JSON.stringify(owner), { expirationTtl: KV_TTL_SECONDS })
  }
  owners.set(hash, owner)
  return owner
}

/**
 * @example
 * app.use('/v1/*', apiKeyAuth({ storeFor: createHashedKeyStore }))
 */
export function createHashedKeyStore(env: Bindings): TenantKeyStore {
  return {
    async identify(key) {
      return ownerOf(env, await hashApiKey(key))
    },
    async authorize(owner) {
      const limiter = limiterFor(env, owner.tenantId)
      const grant = await limiter.authorize(owner.tenantId, owner.keyId)
      return grant && tenantOf(grant)
    },
  }
}
