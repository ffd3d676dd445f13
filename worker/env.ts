/**
 * @module
 * The worker's Hono environment: bindings (the generated `Env` plus the secrets that wrangler.toml cannot
 * declare) and the typed context variables the middleware hands to the routes.
 */
import type { RateSnapshot } from './durable-objects/limiter-types.ts'
import type { RelayOutcome } from './streaming/relay.ts'
import type { KeyOwner, Tenant } from './tenancy/tenant-key-store.ts'

/** `wrangler types` output plus secrets (`wrangler secret put`, `.dev.vars`, `--var`). */
export interface Bindings extends Env {
  /** Bearer token of the admin API (`/admin/*`); unset means the admin API refuses everything. */
  ADMIN_TOKEN?: string
  /**
   * Signs requests to the GPU nodes and verifies their heartbeats: `current[,previous]` (rotation: the
   * edge signs with the first and accepts heartbeats signed with either).
   */
  GPU_NODE_SECRET?: string
  /** Per-node secrets, a JSON object `{"<node id>": "current[,previous]"}`; others use GPU_NODE_SECRET. */
  GPU_NODE_SECRETS?: string
  /** Routing policy overrides (integers; defaults in worker/routing/fleet-config.ts). */
  GPU_ROUTE_MAX_ATTEMPTS?: string
  GPU_ROUTE_ATTEMPT_TIMEOUT_MS?: string
  GPU_ROUTE_DEADLINE_MS?: string
  GPU_NODE_TTL_MS?: string
  GPU_BREAKER_FAILURES?: string
  GPU_BREAKER_COOLDOWN_MS?: string
  /** Cloudflare location hint for creating the tenant and fleet Durable Objects (placement.ts). */
  DO_LOCATION_HINT?: string
}

/** Set by the middleware in `worker/middleware/`, read by the routes. */
export interface Variables {
  /** Echoed in `x-request-id` and forwarded to the GPU node. */
  requestId: string
  /** The presented key's owner (`api-key-auth.ts`): identified, not yet known to be usable. */
  keyOwner: KeyOwner
  /**
   * Asks the tenant's Durable Object whether the key is usable now, once per request, and sets `tenant`;
   * throws the 401 when it is not (`api-key-auth.ts`).
   */
  authorizeKey: () => Promise<Tenant>
  /**
   * The authorized tenant: set at the door (`api-key-auth.ts`), or for the chat route by its reservation,
   * which authorizes the key in the same Durable Object call.
   */
  tenant: Tenant
  /** The parsed, size-capped JSON body (`json-body.ts`); still unvalidated. */
  jsonBody: unknown
  /** The limit state after this request's reservation, for the rate-limit headers (chat route). */
  rateLimit?: RateSnapshot
  /** Set by the chat route: settles when the node's stream ends, with its exact usage (`request-log.ts`). */
  outcome?: Promise<RelayOutcome>
}

export interface AppEnv {
  Bindings: Bindings
  Variables: Variables
}
