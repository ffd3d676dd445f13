/**
 * @module
 * The fleet as the worker's environment describes it: static nodes (`GPU_NODES`, comma-separated
 * `[id=]url` entries), the secrets requests to them are signed with (`GPU_NODE_SECRET` as
 * `current[,previous]`, or per node in `GPU_NODE_SECRETS`, a JSON object `{"<node id>": "current[,previous]"}`),
 * and the routing policy (attempts, deadlines, heartbeat TTL, circuit breaker), each with a default.
 * Nothing here logs or returns a secret except `secretsFor`, whose result goes only to signing.
 */
import type { Bindings } from '../env.ts'

/** A node the edge can send work to. `id` names it in logs and headers; the URL never leaves the edge. */
export interface NodeAddress {
  id: string
  url: string
}

export interface RoutingPolicy {
  /** Nodes tried per request (first try included). */
  maxAttempts: number
  /** One node's time to answer with headers before the next node is tried. */
  attemptTimeoutMs: number
  /** The whole routing step, all attempts included. */
  deadlineMs: number
  /** A dynamic node without a heartbeat for this long is dropped. */
  heartbeatTtlMs: number
  /**
   * Consecutive failures (connect, timeout, broken or stalled stream, refused signature) that open a
   * node's breaker.
   */
  breakerFailures: number
  /** An open breaker lets one probe request through after this long (half-open). */
  breakerCooldownMs: number
}

export const DEFAULT_POLICY: RoutingPolicy = {
  maxAttempts: 3,
  attemptTimeoutMs: 10_000,
  deadlineMs: 30_000,
  heartbeatTtlMs: 15_000,
  breakerFailures: 3,
  breakerCooldownMs: 10_000,
}

/** Entry ids: what GPU_NODE_ID accepts on the node side. */
const NODE_ID = /^[A-Za-z0-9._-]{1,64}$/

/** A static node's id when `GPU_NODES` gives none: its host and port, which are stable and not secret. */
function defaultId(url: string): string {
  return new URL(url).host.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64)
}

/** Parses `GPU_NODES`; blanks are ignored, malformed entries are skipped with a log line. */
export function staticNodes(gpuNodes: string | undefined): NodeAddress[] {
  const nodes: NodeAddress[] = []
  for (const entry of (gpuNodes ?? '').split(',')) {
    const trimmed = entry.trim()
    if (trimmed === '') continue
    const match = /^([A-Za-z0-9._-]{1,64})=(.+)$/.exec(trimmed)
    const url = (match ? match[2]! : trimmed).replace(/\/+$/, '')
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
      console.error(JSON.stringify({ msg: 'GPU_NODES entry is not an http(s) URL; skipped' }))
      continue
    }
    nodes.push({ id: match ? match[1]! : defaultId(url), url })
  }
  return nodes
}

export function isNodeId(value: unknown): value is string {
  return typeof value === 'string' && NODE_ID.test(value)
}

function splitSecrets(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((secret) => secret.trim())
    .filter((secret) => secret !== '')
}

/**
 * The secrets of node `id`, current first: its own from `GPU_NODE_SECRETS` when listed there, else the
 * shared `GPU_NODE_SECRET`. Requests are signed with the first; heartbeats verify against all.
 */
export function secretsFor(env: Bindings, id: string): string[] {
  if (env.GPU_NODE_SECRETS) {
    try {
      const perNode = JSON.parse(env.GPU_NODE_SECRETS) as Record<string, unknown>
      const own = perNode[id]
      if (typeof own === 'string' && splitSecrets(own).length > 0) return splitSecrets(own)
    } catch {
      console.error(JSON.stringify({ msg: 'GPU_NODE_SECRETS is not a JSON object; ignored' }))
    }
  }
  return splitSecrets(env.GPU_NODE_SECRET)
}

/** Settings already reported as malformed in this isolate, so the log says it once, not per request. */
const reported = new Set<string>()

/**
 * A positive integer setting, or `fallback` when unset. A worker has no start-up to refuse a bad value at,
 * so a malformed one (`5s`, `zero`) takes the default and says so in the log, once per isolate.
 */
function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === '') return fallback
  const parsed = Number(value)
  if (Number.isInteger(parsed) && parsed > 0) return parsed
  if (!reported.has(`${name}=${value}`)) {
    reported.add(`${name}=${value}`)
    console.error(
      JSON.stringify({
        msg: `${name} is not a positive integer; the default ${fallback} applies`,
        value: value.slice(0, 32),
      }),
    )
  }
  return fallback
}

/** The routing policy, from optional `GPU_ROUTE_*` / `GPU_BREAKER_*` / `GPU_NODE_TTL_MS` variables. */
export function routingPolicy(env: Bindings): RoutingPolicy {
  const d = DEFAULT_POLICY
  return {
    maxAttempts: positive('GPU_ROUTE_MAX_ATTEMPTS', env.GPU_ROUTE_MAX_ATTEMPTS, d.maxAttempts),
    attemptTimeoutMs: positive(
      'GPU_ROUTE_ATTEMPT_TIMEOUT_MS',
      env.GPU_ROUTE_ATTEMPT_TIMEOUT_MS,
      d.attemptTimeoutMs,
    ),
    deadlineMs: positive('GPU_ROUTE_DEADLINE_MS', env.GPU_ROUTE_DEADLINE_MS, d.deadlineMs),
    heartbeatTtlMs: positive('GPU_NODE_TTL_MS', env.GPU_NODE_TTL_MS, d.heartbeatTtlMs),
    breakerFailures: positive('GPU_BREAKER_FAILURES', env.GPU_BREAKER_FAILURES, d.breakerFailures),
    breakerCooldownMs: positive(
      'GPU_BREAKER_COOLDOWN_MS',
      env.GPU_BREAKER_COOLDOWN_MS,
      d.breakerCooldownMs,
    ),
  }
}
