/**
 * @module
 * The one way the worker reaches a tenant's Durable Object: by the tenant id's name, so every request,
 * everywhere, of one tenant meets the same object; created where `DO_LOCATION_HINT` says (placement.ts).
 */
import type { Bindings } from '../env.ts'
import { placement } from './placement.ts'
import type { TenantLimiter } from './tenant-limiter.ts'

export function limiterFor(
  env: Pick<Bindings, 'TENANT_LIMITER' | 'DO_LOCATION_HINT'>,
  tenantId: string,
): DurableObjectStub<TenantLimiter> {
  return env.TENANT_LIMITER.getByName(tenantId, placement(env))
}
