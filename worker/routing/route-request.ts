/**
 * @module
 * Routing one chat request: ask the NodeRegistry for the least loaded healthy node, open the stream there,
 * and on a connect failure, a timeout, a 503 or a refused signature (nothing reached the node's engine)
 * try another node, up to
 * `maxAttempts` nodes and within `deadlineMs` overall. Never after the first byte: once a node has
 * accepted, its stream is the answer. Each attempt's result feeds that node's circuit breaker; the
 * returned `release` reports how the stream itself ended.
 */
import type { Lease, NodeRegistry } from '../durable-objects/node-registry.ts'
import { placement } from '../durable-objects/placement.ts'
import type { Bindings } from '../env.ts'
import { GatewayError } from '../errors.ts'
import type { NodeAddress, RoutingPolicy } from './fleet-config.ts'
import { routingPolicy, secretsFor, staticNodes } from './fleet-config.ts'
import type { AttemptResult } from './node-pool.ts'
import { UNREACHABLE_RETRY, openNodeStream } from './node-request.ts'

/** The one registry object of the fleet, created where `DO_LOCATION_HINT` says. */
export function registryOf(env: Bindings): DurableObjectStub<NodeRegistry> {
  return env.NODE_REGISTRY.getByName('fleet', placement(env))
}

export interface RouteInput {
  env: Bindings
  body: string
  requestId: string
  tenantId: string
  signal: AbortSignal
  /** For reports that must outlive the response (`ctx.waitUntil`). */
  waitUntil(promise: Promise<unknown>): void
  /** The first attempt's lease, when it was asked for early (see `prefetchLease`). */
  firstLease?: Promise<Lease | null>
}

/**
 * Asks the registry for the first node while other work (the tenant's reservation) is still running, so
 * the two Durable Object round trips overlap instead of adding up. Give the result to `routeChat`, or to
 * `dropLease` if the request ends before routing.
 */
export function prefetchLease(env: Bindings): Promise<Lease | null> {
  const lease = registryOf(env).acquire({
    nodes: staticNodes(env.GPU_NODES),
    exclude: [],
    policy: routingPolicy(env),
  })
  lease.catch(() => {}) // awaited (and its error surfaced) by routeChat or dropLease
  return lease
}

/** Returns an unused prefetched lease without counting it for or against its node. */
export async function dropLease(env: Bindings, lease: Promise<Lease | null>): Promise<void> {
  const taken = await lease.catch(() => null)
  if (taken) {
    await registryOf(env).release({
      id: taken.id,
      leaseId: taken.leaseId,
      result: 'neutral',
      policy: routingPolicy(env),
    })
  }
}

export interface RoutedStream {
  stream: ReadableStream<Uint8Array>
  node: NodeAddress
  /** Nodes tried before this one answered. */
  failedAttempts: number
  /** Ends the lease: `ok` when the stream completed or the node reported an error, `failure` when cut. */
  release(result: AttemptResult): Promise<void>
}

function noNode(): GatewayError {
  return new GatewayError('no_capacity', 'No GPU node is available; retry shortly.', {
    headers: UNREACHABLE_RETRY,
  })
}

/**
 * @example
 * const routed = await routeChat({ env, body, requestId, tenantId, signal, waitUntil })
 * … ctx.waitUntil(relay.outcome.then((o) => routed.release(o.ending === 'done' ? 'ok' : 'failure')))
 */
export async function routeChat(input: RouteInput): Promise<RoutedStream> {
  const policy: RoutingPolicy = routingPolicy(input.env)
  const nodes = staticNodes(input.env.GPU_NODES)
  const registry = registryOf(input.env)
  const deadline = Date.now() + policy.deadlineMs
  const tried: string[] = []
  let lastError: GatewayError | null = null
  for (let attempt = 0; attempt < policy.maxAttempts; attempt++) {
    const left = deadline - Date.now()
    if (left <= 0 || input.signal.aborted) {
      // A prefetched lease that no attempt used must not stay counted as in flight.
      if (attempt === 0 && input.firstLease) input.waitUntil(dropLease(input.env, input.firstLease))
      break
    }
    const prefetched = attempt === 0 ? input.firstLease : undefined
    const lease = prefetched
      ? await prefetched
      : await registry.acquire({ nodes, exclude: tried, policy })
    if (!lease) break
    const node = { id: lease.id, url: lease.url }
    const release = (result: AttemptResult) =>
      registry.release({ id: node.id, leaseId: lease.leaseId, result, policy })
    const outcome = await openNodeStream({
      node,
      body: input.body,
      secret: secretsFor(input.env, node.id)[0],
      requestId: input.requestId,
      tenantId: input.tenantId,
      signal: input.signal,
      timeoutMs: Math.min(policy.attemptTimeoutMs, left),
    })
    if (outcome.ok) return { stream: outcome.stream, node, failedAttempts: tried.length, release }
    const result: AttemptResult = input.signal.aborted
      ? 'neutral'
      : outcome.working
        ? 'ok'
        : 'failure'
    input.waitUntil(release(result))
    if (outcome.retry || outcome.error.status >= 500) {
      logAttempt(input.requestId, node.id, outcome.error)
    }
    lastError = outcome.error
    if (!outcome.retry) throw outcome.error
    tried.push(node.id)
  }
  throw lastError ?? noNode()
}

function logAttempt(requestId: string, node: string, error: GatewayError): void {
  console.warn(
    JSON.stringify({
      msg: 'gpu node attempt failed',
      request_id: requestId,
      node,
      code: error.code,
      status: error.status,
    }),
  )
}
