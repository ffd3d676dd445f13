/**
 * @module
 * `GET /health` (no auth): whether the edge can reach its GPU nodes (static ones and those registered by
 * heartbeat). Answers 200 whenever the worker itself runs (`status: 'degraded'` when no node is healthy)
 * and never shows node URLs or secrets, only counts and the model block of the first healthy node.
 */
import type { Context } from 'hono'
import type { NodeHealth } from '../../shared/protocol.ts'
import type { AppEnv } from '../env.ts'
import { probeFleet } from '../routing/node-health.ts'

export interface EdgeHealth {
  status: 'ok' | 'degraded'
  nodes: { healthy: number; total: number }
  model: NodeHealth['model'] | null
}

/** The route handler. */
export async function health(c: Context<AppEnv>): Promise<Response> {
  const { total, healthy } = await probeFleet(c.env, c.get('requestId'))
  const body: EdgeHealth = {
    status: healthy.length > 0 ? 'ok' : 'degraded',
    nodes: { healthy: healthy.length, total },
    model: healthy[0]?.model ?? null,
  }
  return c.json(body)
}
