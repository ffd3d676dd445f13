/**
 * @module
 * Tenant authentication: `Authorization: Bearer <key>` resolved through a `TenantKeyStore`. The refusal
 * never echoes the key and reads the same for an unknown key as for a revoked one, so it reveals nothing
 * about which keys exist. Keys never reach a log line.
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv, Bindings } from '../env.ts'
import { AuthenticationError } from '../errors.ts'
import type { TenantKeyStore } from '../tenancy/tenant-key-store.ts'

export interface ApiKeyAuthOptions {
  /** The store for this request's bindings (secrets live in `env`, so it cannot be built at startup). */
  storeFor: (env: Bindings) => TenantKeyStore
}

/** RFC 6750 §2.1: `Bearer` (any case), one or more spaces, a b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i

/** The key from an `Authorization` header, or `null` when the header is missing or malformed. */
export function parseBearer(header: string | undefined): string | null {
  return BEARER.exec(header?.trim() ?? '')?.[1] ?? null
}

/**
 * Rejects requests without a valid key (401 `invalid_api_key`) and sets `c.var.tenant`.
 * @example
 * app.use('/v1/*', apiKeyAuth({ storeFor: (env) => createDevKeyStore(env.DEV_API_KEY) }))
 */
export const apiKeyAuth = (options: ApiKeyAuthOptions): MiddlewareHandler<AppEnv> => {
  if (typeof options.storeFor !== 'function') throw new Error('apiKeyAuth requires "storeFor"')
  return async function apiKeyAuth(c, next) {
    const key = parseBearer(c.req.header('authorization'))
    if (key === null) {
      throw new AuthenticationError(
        "Missing or malformed API key. Send it as 'Authorization: Bearer <key>'.",
      )
    }
    const tenant = await options.storeFor(c.env).lookup(key)
    if (!tenant) throw new AuthenticationError('Incorrect API key provided.')
    c.set('tenant', tenant)
    await next()
  }
}
