/**
 * @module
 * Probes a GPU node's `GET /health` with a short timeout. Used by `/health` and `/v1/models`; a node that
 * does not answer in time, answers non-2xx or sends something that is not a `NodeHealth` counts as down.
 */
import type { NodeHealth } from '../../shared/protocol.ts'
import { NODE_HEADERS } from '../../shared/protocol.ts'
import type { GpuNode } from './node-pool.ts'

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
 * const health = await probeNode(node, { secret: env.GPU_NODE_SECRET, requestId })
 */
export async function probeNode(
  node: GpuNode,
  options: { secret: string | undefined; requestId: string },
): Promise<NodeHealth | null> {
  try {
    const response = await fetch(`${node.baseUrl}/health`, {
      headers: {
        [NODE_HEADERS.authorization]: `Bearer ${options.secret ?? ''}`,
        [NODE_HEADERS.requestId]: options.requestId,
      },
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
