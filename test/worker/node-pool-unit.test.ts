/**
 * @module
 * The routing decisions on their own (worker/routing/node-pool.ts), with the clock as a parameter: least
 * outstanding work relative to capacity, nodes that take turns, heartbeat TTL and draining, and the circuit
 * breaker's closed → open → half-open → closed cycle.
 */
import { describe, expect, it, vi } from 'vitest'
import type { NodeHeartbeat } from '../../shared/protocol.ts'
import type { Bindings } from '../../worker/env.ts'
import { DEFAULT_POLICY, routingPolicy } from '../../worker/routing/fleet-config.ts'
import type { PoolNode } from '../../worker/routing/node-pool.ts'
import { endLease, newPoolNode, pickNode, takeLease } from '../../worker/routing/node-pool.ts'

const policy = { ...DEFAULT_POLICY, breakerFailures: 2, breakerCooldownMs: 1_000 }
const NOW = 1_000_000

function beat(load: Partial<NodeHeartbeat>): NodeHeartbeat {
  return {
    node_id: 'n',
    url: 'http://n',
    max_running: 4,
    running: 0,
    queued: 0,
    free_kv_tokens: 1000,
    model: { id: 'gemma-3n-e2b-it', dtype: 'fp32', contract_model: true },
    version: 'test',
    status: 'ok',
    ...load,
  }
}

function node(id: string, load: Partial<NodeHeartbeat> | null, isStatic = true): PoolNode {
  const pooled = newPoolNode({ id, url: `http://${id}` }, isStatic)
  if (load) {
    pooled.heartbeat = beat(load)
    pooled.lastSeen = NOW
  }
  return pooled
}

const pick = (nodes: PoolNode[], now = NOW, exclude: string[] = []) =>
  pickNode(nodes, new Set(exclude), now, policy)?.id ?? null

describe('pickNode', () => {
  it('prefers the least outstanding work relative to capacity', () => {
    const big = node('big', { max_running: 16, running: 6 }) // 0.375
    const small = node('small', { max_running: 2, running: 1 }) // 0.5
    expect(pick([small, big])).toBe('big')
  })

  it("counts the edge's own in-flight requests when the heartbeat is behind", () => {
    const a = node('a', { running: 0 })
    const b = node('b', { running: 1 })
    for (const lease of ['1', '2', '3']) takeLease(a, lease, NOW)
    expect(pick([a, b])).toBe('b')
  })

  it('prefers a node with a free slot, and takes turns between equal nodes', () => {
    const full = node('full', { max_running: 1, running: 1 })
    const a = node('a', null)
    const b = node('b', null)
    expect(pick([full, a, b])).toBe('a')
    takeLease(a, 'x', NOW)
    endLease(a, 'x', 'ok', NOW, policy)
    expect(pick([full, a, b])).toBe('b')
  })

  it('drops dynamic nodes whose heartbeats stopped and nodes that are draining', () => {
    const dynamic = node('dyn', { running: 0 }, false)
    const draining = node('drain', { status: 'draining' })
    const later = NOW + policy.heartbeatTtlMs + 1
    expect(pick([dynamic, draining])).toBe('dyn')
    expect(pick([dynamic, draining], later)).toBe('drain') // its draining beat is stale too
    expect(pick([dynamic], later)).toBeNull()
    expect(pick([dynamic], NOW, ['dyn'])).toBeNull()
  })
})

describe('circuit breaker', () => {
  it('opens after consecutive failures, lets one probe through after the cool-down, closes on success', () => {
    const n = node('n', null)
    const fail = (at: number) => {
      takeLease(n, `l${at}`, at)
      return endLease(n, `l${at}`, 'failure', at, policy)
    }
    expect(fail(NOW)).toBe(false)
    expect(fail(NOW + 1)).toBe(true) // second consecutive failure opens it
    expect(pick([n], NOW + 2)).toBeNull()
    const halfOpen = NOW + 1 + policy.breakerCooldownMs
    expect(pick([n], halfOpen)).toBe('n')
    takeLease(n, 'probe', halfOpen)
    expect(pick([n], halfOpen)).toBeNull() // only one probe at a time
    endLease(n, 'probe', 'failure', halfOpen, policy)
    expect(pick([n], halfOpen + 1)).toBeNull() // the failed probe reopened it
    const again = halfOpen + policy.breakerCooldownMs
    takeLease(n, 'probe2', again)
    endLease(n, 'probe2', 'ok', again, policy)
    expect(n.breaker).toEqual({ failures: 0, openedAt: null, probing: false })
  })

  it('is reset by a success between failures', () => {
    const n = node('n', null)
    for (const [lease, result] of [
      ['a', 'failure'],
      ['b', 'ok'],
      ['c', 'failure'],
    ] as const) {
      takeLease(n, lease, NOW)
      endLease(n, lease, result, NOW, policy)
    }
    expect(n.breaker.openedAt).toBeNull()
    expect(pick([n])).toBe('n')
  })
})

describe('routingPolicy', () => {
  it('reads the settings, and takes the default for a malformed one, saying so once', () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const env = {
      GPU_ROUTE_MAX_ATTEMPTS: '5',
      GPU_ROUTE_DEADLINE_MS: '5s',
      GPU_BREAKER_FAILURES: 'zero',
    } as unknown as Bindings
    const policy = routingPolicy(env)
    expect(policy).toMatchObject({
      maxAttempts: 5,
      deadlineMs: DEFAULT_POLICY.deadlineMs,
      breakerFailures: DEFAULT_POLICY.breakerFailures,
      attemptTimeoutMs: DEFAULT_POLICY.attemptTimeoutMs,
    })
    routingPolicy(env) // per request: not logged again
    const lines = logged.mock.calls.map(([line]) => JSON.parse(String(line)).msg)
    expect(lines).toEqual([
      'GPU_ROUTE_DEADLINE_MS is not a positive integer; the default 30000 applies',
      'GPU_BREAKER_FAILURES is not a positive integer; the default 3 applies',
    ])
    logged.mockRestore()
  })
})
