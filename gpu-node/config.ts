/**
 * @module
 * The GPU node's configuration, read once from the environment and validated with messages that say which
 * variable is wrong and what it accepts. The README's configuration table lists the same variables.
 */
import { randomBytes } from 'node:crypto'
import type { RunnerOptions } from './model/runner-types.ts'

export interface NodeConfig {
  host: string
  port: number
  /** The edge's shared secret; generated (and printed) when unset, for local use. */
  secret: string
  secretGenerated: boolean
  /** `null`: serve the built-in random-weight contract model. */
  modelDir: string | null
  runner: Omit<RunnerOptions, 'modelDir'>
  maxRunning: number
  maxQueued: number
  prefillChunk: number
  maxStepTokens: number
  /** KV cache memory the node may use, in bytes; also bounds the context it serves. */
  kvBudgetBytes: number
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const DEVICES = ['cpu', 'cuda', 'webgpu', 'wasm'] as const
const RUNTIMES = ['node', 'web'] as const

export function loadConfig(env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const secret = env.GPU_NODE_SECRET?.trim() || ''
  return {
    host: env.GPU_NODE_HOST?.trim() || '127.0.0.1',
    port: integer(env, 'GPU_NODE_PORT', 8790, 0, 65535),
    secret: secret || randomBytes(24).toString('base64url'),
    secretGenerated: !secret,
    modelDir: env.GEMMA_MODEL_DIR?.trim() || null,
    runner: {
      dtype: env.GEMMA_DTYPE?.trim() || undefined,
      runtime: oneOf(env, 'GEMMA_RUNTIME', RUNTIMES, 'node'),
      device: env.GEMMA_DEVICE?.trim() ? oneOf(env, 'GEMMA_DEVICE', DEVICES, 'cpu') : undefined,
      threads: integer(env, 'GEMMA_THREADS', 0, 0, 1024),
    },
    maxRunning: integer(env, 'GPU_NODE_MAX_RUNNING', 16, 1, 4096),
    maxQueued: integer(env, 'GPU_NODE_MAX_QUEUED', 256, 0, 100_000),
    prefillChunk: integer(env, 'GPU_NODE_PREFILL_CHUNK', 512, 1, 32_768),
    maxStepTokens: integer(env, 'GPU_NODE_MAX_STEP_TOKENS', 2048, 1, 262_144),
    kvBudgetBytes: integer(env, 'GPU_NODE_KV_BUDGET_MB', 4096, 1, 16 * 1024 * 1024) * 1024 * 1024,
  }
}

function integer(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name]?.trim()
  if (!raw) return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}=${raw} is not an integer between ${min} and ${max}.`)
  }
  return value
}

function oneOf<T extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const raw = env[name]?.trim()
  if (!raw) return fallback
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name}=${raw} is not one of ${allowed.join(', ')}.`)
  }
  return raw as T
}
