/**
 * @module
 * The fleet's routing state and decisions, pure (no I/O, the clock is a parameter) so the NodeRegistry
 * Durable Object can hold it and the tests can drive it. Per node: its address, its last heartbeat (load,
 * capacity), the edge's own in-flight requests on it, and a circuit breaker.
 * - Pick: least outstanding work relative to capacity among healthy nodes, preferring nodes with a free
 *   slot. Outstanding = max(the node's last reported running + queued, the edge's in-flight count): the
 *   heartbeat is up to one interval old, the edge's count is exact for this edge but misses other clients.
 * - Healthy: breaker closed (or half-open with no probe out), not draining, and, for a node known only from
 *   heartbeats, a heartbeat within the TTL.
 * - Breaker: `breakerFailures` consecutive failures (connect failures, timeouts, streams that broke or
 *   stalled, refused signatures) open it; after the cool-down one request goes through (half-open); its success closes the
 *   breaker, its failure opens it again.
 */
import type { NodeHeartbeat } from '../../shared/protocol.ts'
import type { NodeAddress, RoutingPolicy } from './fleet-config.ts'

export interface Breaker {
  failures: number
  /** When it opened (Unix ms); `null` while closed. */
  openedAt: number | null
  /** A half-open probe is out. */
  probing: boolean
}

export interface PoolNode {
  id: string
  url: string
  /** Listed in `GPU_NODES`: kept without heartbeats. */
  isStatic: boolean
  heartbeat: NodeHeartbeat | null
  lastSeen: number | null
  /** Lease id → when it expires: the edge's requests on this node. */
  leases: Map<string, number>
  breaker: Breaker
  /** Order of the last pick (higher = more recent), so equal nodes take turns. */
  lastPick: number
}

/**
 * How an attempt on a node went, for its breaker: `ok` the node answered (whatever the status: it is
 * reachable), `failure` it could not be reached, timed out, broke mid-stream or refused the edge's
 * signature, `neutral` the attempt was
 * abandoned (the client left) and says nothing about the node.
 */
export type AttemptResult = 'ok' | 'failure' | 'neutral'

/** A lease longer than any stream: a worker that died without releasing cannot hold a count forever. */
export const LEASE_MS = 30 * 60_000

export function newPoolNode(address: NodeAddress, isStatic: boolean): PoolNode {
  return {
    ...address,
    isStatic,
    heartbeat: null,
    lastSeen: null,
    leases: new Map(),
    breaker: { failures: 0, openedAt: null, probing: false },
    lastPick: 0,
  }
}

let picks = 0

function inFlight(node: PoolNode, now: number): number {
  let count = 0
  for (const [lease, expiry] of node.leases) {
    if (expiry > now) count++
    else node.leases.delete(lease)
  }
  return count
}

/** False when a dynamic node's heartbeats stopped (it is dropped), or any node says it is draining. */
export function isAlive(node: PoolNode, now: number, policy: RoutingPolicy): boolean {
  if (node.heartbeat?.status === 'draining' && node.lastSeen !== null) {
    if (now - node.lastSeen <= policy.heartbeatTtlMs) return false
  }
  if (node.isStatic) return true
  return node.lastSeen !== null && now - node.lastSeen <= policy.heartbeatTtlMs
}

/** Whether the breaker lets a request through now (a half-open breaker lets exactly one). */
export function breakerAllows(breaker: Breaker, now: number, policy: RoutingPolicy): boolean {
  if (breaker.openedAt === null) return true
  return !breaker.probing && now - breaker.openedAt >= policy.breakerCooldownMs
}

/** Outstanding work over capacity; capacity unknown (no heartbeat yet) counts as one slot. */
export function loadOf(node: PoolNode, now: number): { load: number; hasSlot: boolean } {
  const reported = node.heartbeat ? node.heartbeat.running + node.heartbeat.queued : 0
  const outstanding = Math.max(reported, inFlight(node, now))
  const capacity = Math.max(1, node.heartbeat?.max_running ?? 1)
  return { load: outstanding / capacity, hasSlot: outstanding < capacity }
}

/**
 * The node for the next attempt, or `null` when no healthy node is left. Ties go to the node picked
 * longest ago, so equal nodes take turns.
 */
export function pickNode(
  nodes: Iterable<PoolNode>,
  exclude: ReadonlySet<string>,
  now: number,
  policy: RoutingPolicy,
): PoolNode | null {
  let best: { node: PoolNode; rank: [number, number, number] } | null = null
  for (const node of nodes) {
    if (exclude.has(node.id) || !isAlive(node, now, policy)) continue
    if (!breakerAllows(node.breaker, now, policy)) continue
    const { load, hasSlot } = loadOf(node, now)
    const rank: [number, number, number] = [hasSlot ? 0 : 1, load, node.lastPick]
    if (!best || compare(rank, best.rank) < 0) best = { node, rank }
  }
  return best?.node ?? null
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return 0
}

/** Takes a lease on `node` (and the half-open probe, when the breaker is open). */
export function takeLease(node: PoolNode, leaseId: string, now: number): void {
  node.leases.set(leaseId, now + LEASE_MS)
  node.lastPick = ++picks
  if (node.breaker.openedAt !== null) node.breaker.probing = true
}

/** Ends a lease and feeds its result to the breaker; returns true when this opened the breaker. */
export function endLease(
  node: PoolNode,
  leaseId: string,
  result: AttemptResult,
  now: number,
  policy: RoutingPolicy,
): boolean {
  node.leases.delete(leaseId)
  const breaker = node.breaker
  if (result === 'neutral') {
    breaker.probing = false
    return false
  }
  if (result === 'ok') {
    node.breaker = { failures: 0, openedAt: null, probing: false }
    return false
  }
  breaker.failures++
  const wasOpen = breaker.openedAt !== null
  if (wasOpen || breaker.failures >= policy.breakerFailures) {
    breaker.openedAt = now
    breaker.probing = false
    return !wasOpen
  }
  return false
}
