/**
 * @module
 * What the edge and a GPU node agree on beyond the OpenAI wire format: the served model id, context size,
 * the headers the edge adds, and the node's health document.
 */

/** The model id clients send and `/v1/models` lists. */
export const MODEL_ID = 'gemma-3n-e2b-it'

/** Gemma 3n's context window in tokens (prompt + completion). */
export const MODEL_CONTEXT_TOKENS = 32_768

/** Headers the edge sets on every request to a GPU node. */
export const NODE_HEADERS = {
  /** `Bearer <GPU_NODE_SECRET>`: nodes answer 401 without it. */
  authorization: 'authorization',
  /** Correlates edge and node logs; echoed by the node. */
  requestId: 'x-request-id',
  /** The tenant the request belongs to (fairness and metrics on the node). */
  tenant: 'x-gemma-tenant',
} as const

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
