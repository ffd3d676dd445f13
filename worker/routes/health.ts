/**
 * @module
 * `GET /health` (no auth): whether the edge can reach its GPU nodes. Answers 200 whenever the worker itself
 * runs (`status: 'degraded'` when no node is healthy) and never shows node URLs or secrets, only counts and
 * the model block of the first healthy node.
 */
import type { Context } from 'hono'
import type { NodeHealth } from '../../shared/protocol.ts'
import type { AppEnv } from '../env.ts'
import { probeNode } from '../routing/node-health.ts'
import { NodePool } from '../routing/node-pool.ts'

export interface EdgeHealth {
  status: 'ok' | 'degraded'
  nodes: { healthy: number; total: number }
  model: NodeHealth['model'] | null
}

/** The route handler. */
export async function health(c: Context<AppEnv>): Promise<Response> {
  const pool = NodePool.fromEnv(c.env.GPU_NODES)
  const options = { secret: c.env.GPU_NODE_SECRET, requestId: c.get('requestId') }
  const reports = await Promise.all(pool.nodes.map((node) => probeNode(node, options)))
  const healthy = reports.filter((report): report is NodeHealth => report?.status === 'ok')
  const body: EdgeHealth = {
    status: healthy.length > 0 ? 'ok' : 'degraded',
    nodes: { healthy: healthy.length, total: pool.nodes.length },
    model: healthy[0]?.model ?? null,
  }
  return c.json(body)
}
