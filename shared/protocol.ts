/**
 * @module
 * What the edge and a GPU node agree on beyond the OpenAI wire format: the served model id, context size,
 * the headers the edge adds, and the node's health document.
 */

/** The model id clients send and `/v1/models` lists. */
export const MODEL_ID = 'gemma-3n-e2b-it'

/** Model ids are compared case-insensitively: `gemma-3n-E2B-it` (Google's spelling) is the same model. */
export function isServedModel(model: string): boolean {
  return model.toLowerCase() === MODEL_ID
}

/** Gemma 3n's context window in tokens (prompt + completion). */
export const MODEL_CONTEXT_TOKENS = 32_768

/**
 * Headers the edge sets on requests to a GPU node (besides the signature headers of shared/signing.ts,
 * which every request carries: nodes answer 401 without a valid signature).
 */
export const NODE_HEADERS = {
  /** Correlates edge and node logs; echoed by the node. */
  requestId: 'x-request-id',
  /** The tenant the request belongs to (fairness and metrics on the node). */
  tenant: 'x-gemma-tenant',
  /** Optional integer priority (-100..100, default 0): higher is admitted first on a busy node. */
  priority: 'x-gemma-priority',
  /**
   * `1`: put the usage so far on every streamed chunk (like vLLM's `continuous_usage_stats`), so the edge
   * can charge exactly what was generated when a stream breaks. The edge strips it before the client.
   */
  continuousUsage: 'x-gemma-continuous-usage',
} as const

/** Where a GPU node sends its signed heartbeats on the edge. */
export const HEARTBEAT_PATH = '/internal/nodes/heartbeat'

/** A node's heartbeat body (node → edge, signed with the node's secret). */
export interface NodeHeartbeat {
  /** Stable id of the node (`GPU_NODE_ID`): letters, digits, `.`, `_`, `-`; at most 64 characters. */
  node_id: string
  /** Base URL the edge reaches the node at (`GPU_NODE_PUBLIC_URL`), `http(s)://host[:port][/prefix]`. */
  url: string
  /** Sequences the node runs at once (`GPU_NODE_MAX_RUNNING`). */
  max_running: number
  running: number
  queued: number
  /** KV cache tokens still free. */
  free_kv_tokens: number
  model: { id: string; dtype: string; contract_model: boolean }
  /** The node's software version. */
  version: string
  /** `draining` nodes get no new work. */
  status: 'ok' | 'draining'
}

/** `GET /health` on a GPU node. */
export interface NodeHealth {
  status: 'ok' | 'loading' | 'draining'
  model: {
    id: string
    /** True when the node serves a random-weight contract model, not the real Gemma 3n weights. */
    contract_model: boolean
    note: string | null
    dtype: string
    device: string
    runtime: string
  }
  load: {
    running: number
    queued: number
    max_running: number
  }
  version: string
}
