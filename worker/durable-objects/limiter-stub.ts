/**
 * @module
 * The one way the worker reaches a tenant's Durable Object: by the tenant id's name, so every request,
 * everywhere, of one tenant meets the same object.
 */
import type { TenantLimiter } from './tenant-limiter.ts'

export function limiterFor(
  namespace: DurableObjectNamespace<TenantLimiter>,
  tenantId: string,
): DurableObjectStub<TenantLimiter> {
  return namespace.getByName(tenantId)
}
