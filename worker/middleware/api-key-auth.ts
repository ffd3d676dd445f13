/**
 * @module
 * Tenant authentication: `Authorization: Bearer <key>` resolved through a `TenantKeyStore`. The refusal
 * never echoes the key and reads the same for an unknown key as for a revoked one, so it reveals nothing
 * about which keys exist. Keys never reach a log line.
 *
 * Two steps: the key is identified at the door (no Durable Object call; an unknown key stops here), then
 * authorized by the tenant's Durable Object. Routes that reserve a budget authorize in their reservation,
 * one Durable Object round trip instead of two (`authorizesItself`). For them this middleware still keeps
 * the promise that an unusable key only ever gets the 401: when their handler refuses a request before
 * the key was authorized, the key is checked then, and the 401 replaces the refusal if it is not usable.
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { AppEnv, Bindings } from '../env.ts'
import { AuthenticationError } from '../errors.ts'
import type { Tenant, TenantKeyStore } from '../tenancy/tenant-key-store.ts'

export interface ApiKeyAuthOptions {
  /** The store for this request's bindings (secrets live in `env`, so it cannot be built at startup). */
  storeFor: (env: Bindings) => TenantKeyStore
  /** Routes whose handler authorizes the key itself (through `c.var.authorizeKey` or its reservation). */
  authorizesItself?: (c: Context<AppEnv>) => boolean
}

/** RFC 6750 §2.1: `Bearer` (any case), one or more spaces, a b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i

/** The key from an `Authorization` header, or `null` when the header is missing or malformed. */
export function parseBearer(header: string | undefined): string | null {
  return BEARER.exec(header?.trim() ?? '')?.[1] ?? null
}

const refused = () => new AuthenticationError('Incorrect API key provided.')

/**
 * Rejects requests without a valid key (401 `invalid_api_key`), sets `c.var.keyOwner` and
 * `c.var.authorizeKey`, and `c.var.tenant` unless the route authorizes itself.
 * @example
 * app.use('/v1/*', apiKeyAuth({ storeFor: createHashedKeyStore }))
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
    const store = options.storeFor(c.env)
    const owner = await store.identify(key)
    if (!owner) throw refused()
    c.set('keyOwner', owner)
    let authorized: Promise<Tenant> | null = null
    const authorizeKey = () =>
      (authorized ??= store.authorize(owner).then((tenant) => {
        if (!tenant) throw refused()
        c.set('tenant', tenant)
        return tenant
      }))
    c.set('authorizeKey', authorizeKey)
    if (!options.authorizesItself?.(c)) {
      await authorizeKey()
      return next()
    }
    await next()
    // The handler refused the request (Hono has already turned its error into `c.res`) before any
    // Durable Object saw the key, a bad body say: a key that is not usable gets the 401 instead. Thrown
    // from here, it replaces that response.
    if (c.error && !c.get('tenant') && !(c.error instanceof AuthenticationError))
      await authorizeKey()
  }
}
