/**
 * The isolate's key-owner cache: entries expire, the oldest goes first when full, and re-setting an entry
 * makes it the newest.
 */
import { describe, expect, it } from 'vitest'
import { OwnerCache } from '../../worker/tenancy/owner-cache.ts'

const owner = (n: number) => ({ tenantId: `ten_${n}`, keyId: `key_${n}` })

describe('OwnerCache', () => {
  it('returns an owner until its time is up, then forgets it', () => {
    const cache = new OwnerCache(10, 1_000)
    cache.set('h1', owner(1), 0)
    expect(cache.get('h1', 999)).toEqual(owner(1))
    expect(cache.get('h1', 1_000)).toBeNull()
    expect(cache.size).toBe(0)
    expect(cache.get('never-set', 0)).toBeNull()
  })

  it('drops the oldest entry when full; setting an entry again makes it the newest', () => {
    const cache = new OwnerCache(2, 60_000)
    cache.set('h1', owner(1), 0)
    cache.set('h2', owner(2), 0)
    cache.set('h1', owner(1), 1)
    cache.set('h3', owner(3), 2)
    expect(cache.size).toBe(2)
    expect(cache.get('h2', 3)).toBeNull()
    expect(cache.get('h1', 3)).toEqual(owner(1))
    expect(cache.get('h3', 3)).toEqual(owner(3))
  })
})
