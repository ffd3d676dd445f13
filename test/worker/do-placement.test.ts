/**
 * @module
 * `DO_LOCATION_HINT`: the tenant and fleet Durable Objects are asked for with Cloudflare's location hint,
 * and workerd takes the option on real namespaces. (Where an object lands cannot be seen locally: there is
 * one location.)
 */
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { limiterFor } from '../../worker/durable-objects/limiter-stub.ts'
import { placement } from '../../worker/durable-objects/placement.ts'
import { DEFAULT_POLICY } from '../../worker/routing/fleet-config.ts'
import { registryOf } from '../../worker/routing/route-request.ts'

afterEach(() => vi.restoreAllMocks())

describe('placement', () => {
  it('reads a location hint, and nothing when unset or blank', () => {
    expect(placement({ DO_LOCATION_HINT: 'enam' })).toEqual({ locationHint: 'enam' })
    expect(placement({ DO_LOCATION_HINT: ' apac-se ' })).toEqual({ locationHint: 'apac-se' })
    expect(placement({})).toBeUndefined()
    expect(placement({ DO_LOCATION_HINT: ' ' })).toBeUndefined()
  })

  it('ignores a value that is not a hint, with one log line per value', () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    expect(placement({ DO_LOCATION_HINT: 'us-east' })).toBeUndefined()
    expect(placement({ DO_LOCATION_HINT: 'us-east' })).toBeUndefined()
    expect(log).toHaveBeenCalledTimes(1)
    expect(String(log.mock.calls[0]![0])).toContain('not a Cloudflare location hint')
  })
})

describe('the worker asks for its Durable Objects with the hint', () => {
  it('passes it to the tenant namespace', () => {
    const asked: unknown[][] = []
    const namespace = {
      getByName: (...args: unknown[]) => (asked.push(args), {}),
    } as unknown as typeof env.TENANT_LIMITER
    limiterFor({ TENANT_LIMITER: namespace, DO_LOCATION_HINT: 'weur' }, 'tenant-a')
    limiterFor({ TENANT_LIMITER: namespace }, 'tenant-b')
    expect(asked).toEqual([
      ['tenant-a', { locationHint: 'weur' }],
      ['tenant-b', undefined],
    ])
  })

  it('and workerd serves objects asked for that way', async () => {
    const hinted = { ...env, DO_LOCATION_HINT: 'enam' }
    // A tenant that does not exist: its object answers, and refuses the key.
    expect(await limiterFor(hinted, 'tenant-nowhere').authorize('tenant-nowhere', 'key_x')).toBe(
      null,
    )
    const fleet = await registryOf(hinted).status({ nodes: [], policy: DEFAULT_POLICY })
    expect(fleet).toBeDefined()
  })
})
