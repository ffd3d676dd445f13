/**
 * @module
 * The fleet's health as `/health` and `/v1/models` report it: the NodeRegistry's view (static and
 * heartbeating nodes, breakers), then a probe of each live node's open `GET /health` with a short timeout.
 * A node that does not answer in time, answers non-2xx or sends something that is not a `NodeHealth`
 * counts as down.
 */
import type { NodeHealth } from '../../shared/protocol.ts'
import { NODE_HEADERS } from '../../shared/protocol.ts'
import type { Bindings } from '../env.ts'
import type { NodeAddress } from './fleet-config.ts'
import { routingPolicy, staticNodes } from './fleet-config.ts'
import { registryOf } from './route-request.ts'

/** Health probes must not hold up a client request; a node slower than this is treated as down. */
export const HEALTH_TIMEOUT_MS = 2_000

function isNodeHealth(value: unknown): value is NodeHealth {
  if (typeof value !== 'object' || value === null) return false
  const { status, model } = value as { status?: unknown; model?: unknown }
  return (
    typeof status === 'string' &&
    typeof model === 'object' &&
    model !== null &&
    typeof (model as { contract_model?: unknown }).contract_model === 'boolean'
  )
}

/**
 * The node's health document, or `null` when it is unreachable or broken.
 * @example
 * const health = await probeNode(node, requestId)
 */
export async function probeNode(node: NodeAddress, requestId: string): Promise<NodeHealth | null> {
  try {
    const response = await fetch(`${node.url}/health`, {
      headers: { [NODE_HEADERS.requestId]: requestId },
      signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS),
    })
    if (!response.ok) {
      await response.body?.cancel()
      return null
    }
    const body: unknown = await response.json()
    return isNodeHealth(body) ? body : null
  } catch {
    return null
  }
}

/** Known nodes, and the health documents of those that answered `ok`. */
export async function probeFleet(
  env: Bindings,
  requestId: string,
): Promise<{ total: number; healthy: NodeHealth[] }> {
  const policy = routingPolicy(env)
  const nodes = await registryOf(env).status({ nodes: staticNodes(env.GPU_NODES), policy })
  const reports = await Promise.all(
    nodes.map((node) => (node.alive ? probeNode(node, requestId) : null)),
  )
  const healthy = reports.filter((report): report is NodeHealth => report?.status === 'ok')
  return { total: nodes.length, healthy }
}
