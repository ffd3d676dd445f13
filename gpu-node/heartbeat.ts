/**
 * @module
 * Signed heartbeats from a GPU node to the edge (`POST <GPU_NODE_EDGE_URL>/internal/nodes/heartbeat`):
 * who the node is, where the edge reaches it, and its load, every `GPU_NODE_HEARTBEAT_SECONDS`. The edge
 * registers the node on the first one and drops it when they stop, so nodes join and leave a fleet without
 * redeploying the worker. A failed beat is logged (without the secret) and retried on the next tick.
 */
import { HEARTBEAT_PATH } from '../shared/protocol.ts'
import type { NodeHeartbeat } from '../shared/protocol.ts'
import { signRequest } from '../shared/signing.ts'
import type { HeartbeatConfig } from './config.ts'

/** One beat must not outlive the interval by much: a hung edge connection would stall the next beats. */
const BEAT_TIMEOUT_MS = 5_000

export interface HeartbeatLoop {
  /** Sends one beat now (also used for the first beat at start and a last `draining` beat at shutdown). */
  beat(): Promise<boolean>
  stop(): void
}

/**
 * @example
 * const loop = startHeartbeats(config.heartbeat, config.secrets[0], () => snapshot(), log)
 * … loop.stop()
 */
export function startHeartbeats(
  config: HeartbeatConfig,
  secret: string,
  snapshot: () => NodeHeartbeat,
  log: (line: Record<string, unknown>) => void,
): HeartbeatLoop {
  let failing = false
  const beat = async (): Promise<boolean> => {
    const body = JSON.stringify(snapshot())
    try {
      const headers = await signRequest({ method: 'POST', path: HEARTBEAT_PATH, body, secret })
      const response = await fetch(`${config.edgeUrl}${HEARTBEAT_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
        signal: AbortSignal.timeout(BEAT_TIMEOUT_MS),
      })
      await response.body?.cancel()
      if (!response.ok) throw new Error(`the edge answered HTTP ${response.status}`)
      if (failing) log({ level: 'info', msg: 'heartbeats reach the edge again' })
      failing = false
      return true
    } catch (error) {
      // Logged once per outage, not once per beat.
      if (!failing) {
        log({ level: 'warn', msg: 'heartbeat to the edge failed', error: String(error) })
      }
      failing = true
      return false
    }
  }
  const timer = setInterval(() => void beat(), config.intervalMs)
  timer.unref()
  void beat()
  return { beat, stop: () => clearInterval(timer) }
}
