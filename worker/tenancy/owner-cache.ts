/**
 * @module
 * Key-hash → owner entries kept in the isolate's memory, so a busy key skips the KV read on every request
 * (a KV hit still costs a round trip). Safe to keep because an owner entry never changes: revocation and
 * expiry are decided by the tenant's Durable Object on every request, not here. Only found owners are
 * kept (a key created a moment ago must work at once), and the map is bounded: the oldest entry goes first.
 */
import type { KeyOwner } from './tenant-repository.ts'

export class OwnerCache {
  readonly #entries = new Map<string, { owner: KeyOwner; until: number }>()
  readonly #maxEntries: number
  readonly #ttlMs: number

  constructor(maxEntries: number, ttlMs: number) {
    this.#maxEntries = maxEntries
    this.#ttlMs = ttlMs
  }

  get(hash: string, now = Date.now()): KeyOwner | null {
    const entry = this.#entries.get(hash)
    if (!entry) return null
    if (entry.until <= now) {
      this.#entries.delete(hash)
      return null
    }
    return entry.owner
  }

  set(hash: string, owner: KeyOwner, now = Date.now()): void {
    this.#entries.delete(hash)
    if (this.#entries.size >= this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!)
    }
    this.#entries.set(hash, { owner, until: now + this.#ttlMs })
  }

  get size(): number {
    return this.#entries.size
  }
}
