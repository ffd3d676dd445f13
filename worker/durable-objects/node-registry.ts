/**
 * @module
 * `NodeRegistry`: one Durable Object (named `fleet`) that knows the GPU fleet: the static nodes each
 * request brings from `GPU_NODES`, the nodes that announced themselves with signed heartbeats, the edge's
 * in-flight requests per node, and each node's circuit breaker. Every isolate of the worker asks it for a
 * node (`acquire`) and reports back (`release`), so load counts and breakers hold across isolates.
 * State is in memory on purpose: it is rebuilt within one heartbeat interval if the object restarts, and
 * a restarted object that forgot an open breaker finds the dead node again on the first failed connect.
 */
import { DurableObject } from 'cloudflare:workers'
import type { NodeHeartbeat } from '../../shared/protocol.ts'
import { NonceCache } from '../../shared/signing.ts'
import type { Bindings } from '../env.ts'
import type { NodeAddress, RoutingPolicy } from '../routing/fleet-config.ts'
import { secretsFor } from '../routing/fleet-config.ts'
import { checkHeartbeat } from '../routing/heartbeat-check.ts'
import type { SignedBody } from '../routing/heartbeat-check.ts'
import type { AttemptResult, PoolNode } from '../routing/node-pool.ts'
import {
  breakerAllows,
  endLease,
  isAlive,
  loadOf,
  newPoolNode,
  pickNode,
  takeLease,
} from '../routing/node-pool.ts'

export type HeartbeatResult = { ok: true } | { ok: false; status: 400 | 401; reason: string }

export interface AcquireInput {
  nodes: NodeAddress[]
  /** Nodes this request already tried. */
  exclude: string[]
  policy: RoutingPolicy
}

export interface Lease extends NodeAddress {
  leaseId: string
}

export interface ReleaseInput {
  id: string
  leaseId: string
  result: AttemptResult
  policy: RoutingPolicy
}

/** One node's state, for `/health` and `/v1/models` (which probe `url` but never show it). */
export interface NodeStatus {
  id: string
  url: string
  isStatic: boolean
  alive: boolean
  breaker: 'closed' | 'open' | 'half_open'
  load: number
  heartbeat: NodeHeartbeat | null
}

export class NodeRegistry extends DurableObject<Env> {
  readonly #nodes = new Map<string, PoolNode>()
  /** Every heartbeat meets this one cache, so a replay is refused whichever isolate received it. */
  readonly #nonces = new NonceCache()

  /**
   * Verifies a signed heartbeat (signature with the node's secrets, then shape) and registers the node.
   * The answer's reason is for the log line; the node gets only the status.
   */
  async heartbeat(signed: SignedBody): Promise<HeartbeatResult> {
    const env = this.env as Bindings
    const check = await checkHeartbeat(signed, (id) => secretsFor(env, id), this.#nonces)
    if (!check.ok) return check
    this.#register(check.heartbeat)
    return { ok: true }
  }

  #register(beat: NodeHeartbeat): void {
    const now = Date.now()
    const url = beat.url.replace(/\/+$/, '')
    // A static node that also sends heartbeats is one node, found by its id or its URL.
    let node = this.#nodes.get(beat.node_id)
    node ??= Array.from(this.#nodes.values()).find((n) => n.url === url)
    if (!node) {
      node = newPoolNode({ id: beat.node_id, url }, false)
      this.#nodes.set(node.id, node)
      log('gpu node joined', { node: node.id })
    } else if (!node.isStatic) {
      if (node.lastSeen === null || now - node.lastSeen > HEARTBEAT_GONE_MS) {
        log('gpu node rejoined', { node: node.id })
      }
      node.url = url
    }
    node.heartbeat = beat
    node.lastSeen = now
  }

  /** Picks the node for the next attempt and takes a lease on it; `null` when none is available. */
  async acquire(input: AcquireInput): Promise<Lease | null> {
    const now = Date.now()
    this.#sync(input.nodes, now, input.policy)
    const node = pickNode(this.#nodes.values(), new Set(input.exclude), now, input.policy)
    if (!node) return null
    const leaseId = crypto.randomUUID()
    takeLease(node, leaseId, now)
    return { id: node.id, url: node.url, leaseId }
  }

  /** Ends a lease with the attempt's result (which feeds the node's breaker). */
  async release(input: ReleaseInput): Promise<void> {
    const node = this.#nodes.get(input.id)
    if (!node) return
    if (endLease(node, input.leaseId, input.result, Date.now(), input.policy)) {
      log('gpu node circuit breaker opened', { node: node.id, failures: node.breaker.failures })
    }
  }

  /** Every known node's state, for `/health` and `/v1/models`. */
  async status(input: { nodes: NodeAddress[]; policy: RoutingPolicy }): Promise<NodeStatus[]> {
    const now = Date.now()
    this.#sync(input.nodes, now, input.policy)
    return Array.from(this.#nodes.values(), (node) => ({
      id: node.id,
      url: node.url,
      isStatic: node.isStatic,
      alive: isAlive(node, now, input.policy),
      breaker:
        node.breaker.openedAt === null
          ? 'closed'
          : breakerAllows(node.breaker, now, input.policy)
            ? 'half_open'
            : 'open',
      load: loadOf(node, now).load,
      heartbeat: node.heartbeat,
    }))
  }

  /** Applies the request's `GPU_NODES` and drops dynamic nodes whose heartbeats stopped. */
  #sync(addresses: NodeAddress[], now: number, policy: RoutingPolicy): void {
    const listed = new Set<string>()
    for (const address of addresses) {
      listed.add(address.id)
      const node = this.#nodes.get(address.id)
      if (!node) this.#nodes.set(address.id, newPoolNode(address, true))
      else Object.assign(node, { url: address.url, isStatic: true })
    }
    for (const node of this.#nodes.values()) {
      if (listed.has(node.id)) continue
      node.isStatic = false
      if (!isAlive(node, now, policy) && node.leases.size === 0) {
        this.#nodes.delete(node.id)
        if (node.lastSeen !== null) log('gpu node dropped (no heartbeat)', { node: node.id })
      }
    }
  }
}

/** A heartbeat after this long without one logs a rejoin (the node restarted or came back). */
const HEARTBEAT_GONE_MS = 30_000

function log(msg: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ msg, ...fields }))
}
