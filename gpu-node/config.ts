/**
 * @module
 * The GPU node's configuration, read once from the environment and validated with messages that say which
 * variable is wrong and what it accepts. The README's configuration table lists the same variables.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import type { RunnerOptions } from './model/runner-types.ts'

export interface NodeConfig {
  host: string
  port: number
  /**
   * The secrets edge requests may be signed with: `GPU_NODE_SECRET` as `current[,previous]` (rotation).
   * The first also signs this node's heartbeats. Generated (and printed) when unset, for local use.
   */
  secrets: string[]
  secretGenerated: boolean
  /** `GPU_NODE_METRICS_TOKEN`: lets a Prometheus scraper read `/metrics` as a bearer token. */
  metricsToken: string | null
  /** Signed heartbeats to the edge; `null` when `GPU_NODE_EDGE_URL` is unset (static `GPU_NODES` only). */
  heartbeat: HeartbeatConfig | null
  /** `null`: serve the built-in random-weight contract model. */
  modelDir: string | null
  runner: Omit<RunnerOptions, 'modelDir'>
  maxRunning: number
  maxQueued: number
  prefillChunk: number
  maxStepTokens: number
  /** Engine steps sent to the runner before the previous one has answered (EngineOptions). */
  stepsAhead: 1 | 2
  /** KV cache memory the node may use, in bytes; also bounds the context it serves. */
  kvBudgetBytes: number
  /** How long a shutdown waits for running streams before ending them. */
  drainMs: number
  /** Silence on a stream after which a `: keep-alive` comment is sent. */
  keepAliveMs: number
}

export interface HeartbeatConfig {
  /** The edge's base URL; heartbeats go to `<edgeUrl>/internal/nodes/heartbeat`. */
  edgeUrl: string
  /** The URL the edge reaches this node at (through a tunnel, usually not the listen address). */
  publicUrl: string
  nodeId: string
  intervalMs: number
}

/** Every setting, by the environment variable that sets it (a config file uses the same names). */
export const CONFIG_VARIABLES = [
  'GPU_NODE_HOST',
  'GPU_NODE_PORT',
  'GPU_NODE_SECRET',
  'GPU_NODE_METRICS_TOKEN',
  'GEMMA_MODEL_DIR',
  'GEMMA_DTYPE',
  'GEMMA_DEVICE',
  'GEMMA_RUNTIME',
  'GEMMA_THREADS',
  'GPU_NODE_MAX_RUNNING',
  'GPU_NODE_MAX_QUEUED',
  'GPU_NODE_PREFILL_CHUNK',
  'GPU_NODE_MAX_STEP_TOKENS',
  'GPU_NODE_STEPS_AHEAD',
  'GPU_NODE_KV_BUDGET_MB',
  'GPU_NODE_DRAIN_SECONDS',
  'GPU_NODE_KEEPALIVE_SECONDS',
  'GPU_NODE_EDGE_URL',
  'GPU_NODE_PUBLIC_URL',
  'GPU_NODE_ID',
  'GPU_NODE_HEARTBEAT_SECONDS',
] as const

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const DEVICES = ['cpu', 'cuda', 'webgpu', 'wasm'] as const
const RUNTIMES = ['node', 'web'] as const

/**
 * Reads the configuration: the JSON file named by GPU_NODE_CONFIG (if any), with the environment taking
 * precedence over it.
 * @example GPU_NODE_CONFIG=/etc/gemma-edge/node.json npm run gpu-node
 */
export function loadConfig(processEnv: NodeJS.ProcessEnv = process.env): NodeConfig {
  const file = processEnv.GPU_NODE_CONFIG?.trim()
  const env = file ? { ...readConfigFile(file), ...definedOnly(processEnv) } : processEnv
  const secrets = (env.GPU_NODE_SECRET ?? '')
    .split(',')
    .map((secret) => secret.trim())
    .filter((secret) => secret !== '')
  if (secrets.length > 2) {
    throw new ConfigError('GPU_NODE_SECRET takes at most two secrets: "current,previous".')
  }
  const host = env.GPU_NODE_HOST?.trim() || '127.0.0.1'
  // Behind a tunnel the node listens on loopback, yet the internet reaches it: announced to an edge, it
  // counts as exposed.
  const exposed = !isLoopback(host) || Boolean(env.GPU_NODE_EDGE_URL?.trim())
  checkSecrets(secrets, exposed ? host : null)
  const port = integer(env, 'GPU_NODE_PORT', 8790, 0, 65535)
  return {
    host,
    port,
    secrets: secrets.length > 0 ? secrets : [randomBytes(24).toString('base64url')],
    secretGenerated: secrets.length === 0,
    metricsToken: metricsToken(env),
    heartbeat: heartbeatConfig(env, host, port),
    modelDir: env.GEMMA_MODEL_DIR?.trim() || null,
    runner: {
      dtype: env.GEMMA_DTYPE?.trim() || undefined,
      runtime: oneOf(env, 'GEMMA_RUNTIME', RUNTIMES, 'node'),
      device: env.GEMMA_DEVICE?.trim() ? oneOf(env, 'GEMMA_DEVICE', DEVICES, 'cpu') : undefined,
      threads: integer(env, 'GEMMA_THREADS', 0, 0, 1024),
    },
    maxRunning: integer(env, 'GPU_NODE_MAX_RUNNING', 16, 1, 4096),
    // Every request waits in the queue, however briefly, before it gets a slot.
    maxQueued: integer(env, 'GPU_NODE_MAX_QUEUED', 256, 1, 100_000),
    prefillChunk: integer(env, 'GPU_NODE_PREFILL_CHUNK', 256, 1, 32_768),
    maxStepTokens: integer(env, 'GPU_NODE_MAX_STEP_TOKENS', 2048, 1, 262_144),
    stepsAhead: integer(env, 'GPU_NODE_STEPS_AHEAD', 2, 1, 2) as 1 | 2,
    kvBudgetBytes: integer(env, 'GPU_NODE_KV_BUDGET_MB', 4096, 1, 16 * 1024 * 1024) * 1024 * 1024,
    drainMs: integer(env, 'GPU_NODE_DRAIN_SECONDS', 30, 0, 3600) * 1000,
    keepAliveMs: integer(env, 'GPU_NODE_KEEPALIVE_SECONDS', 15, 1, 3600) * 1000,
  }
}

const NODE_ID = /^[A-Za-z0-9._-]{1,64}$/

/** The shortest secret a node that others can reach takes. */
const MIN_SECRET_LENGTH = 16
/** The example file's placeholder, refused anywhere. */
const PLACEHOLDER_SECRET = 'change-me'
const GENERATE_SECRET =
  "generate one with `node -e \"console.log(require('node:crypto').randomBytes(32).toString('base64url'))\"`"

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host)
}

/**
 * Whoever holds the secret can use the node: a node others can reach takes none that is guessable.
 * `exposedOn`: the listen address of a node others can reach, `null` for one on loopback only.
 */
function checkSecrets(secrets: string[], exposedOn: string | null): void {
  for (const secret of secrets) {
    if (secret.toLowerCase() === PLACEHOLDER_SECRET) {
      throw new ConfigError(
        `GPU_NODE_SECRET is still the example's placeholder "${PLACEHOLDER_SECRET}": ${GENERATE_SECRET}, and give the worker the same.`,
      )
    }
    if (exposedOn !== null && secret.length < MIN_SECRET_LENGTH) {
      const where = isLoopback(exposedOn)
        ? 'that joins an edge by heartbeats (GPU_NODE_EDGE_URL), as a tunnel exposes it'
        : `listening on ${exposedOn} (beyond this machine)`
      throw new ConfigError(
        `GPU_NODE_SECRET must be at least ${MIN_SECRET_LENGTH} characters on a node ${where}: ${GENERATE_SECRET}.`,
      )
    }
  }
}

/** The scraper's token opens the metrics to anyone who has it: it must not be guessable either. */
function metricsToken(env: NodeJS.ProcessEnv): string | null {
  const token = env.GPU_NODE_METRICS_TOKEN?.trim()
  if (!token) return null
  if (token.length < MIN_SECRET_LENGTH || /\s/.test(token)) {
    throw new ConfigError(
      `GPU_NODE_METRICS_TOKEN must be at least ${MIN_SECRET_LENGTH} characters, without spaces: ${GENERATE_SECRET}.`,
    )
  }
  return token
}

/** Heartbeats are on when the edge's URL is set; the public URL defaults to the listen address. */
function heartbeatConfig(env: NodeJS.ProcessEnv, host: string, port: number) {
  const edgeUrl = env.GPU_NODE_EDGE_URL?.trim()
  if (!edgeUrl) return null
  const announced = env.GPU_NODE_PUBLIC_URL?.trim()
  if (!announced && (host === '0.0.0.0' || host === '::')) {
    throw new ConfigError(
      `GPU_NODE_PUBLIC_URL is needed with GPU_NODE_EDGE_URL when GPU_NODE_HOST=${host}: a node listening on every interface has no one address to announce; give the URL the edge reaches it at (e.g. https://gpu-a.example.com).`,
    )
  }
  const publicUrl = announced || `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  for (const [name, value] of [
    ['GPU_NODE_EDGE_URL', edgeUrl],
    ['GPU_NODE_PUBLIC_URL', publicUrl],
  ] as const) {
    if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) {
      throw new ConfigError(`${name}=${value} is not an http(s) URL.`)
    }
  }
  const nodeId = env.GPU_NODE_ID?.trim() || `${hostname()}-${port}`.replace(/[^A-Za-z0-9._-]/g, '-')
  if (!NODE_ID.test(nodeId)) {
    throw new ConfigError(`GPU_NODE_ID=${nodeId} must be 1-64 letters, digits, '.', '_' or '-'.`)
  }
  return {
    edgeUrl: edgeUrl.replace(/\/+$/, ''),
    publicUrl: publicUrl.replace(/\/+$/, ''),
    nodeId: nodeId.slice(0, 64),
    intervalMs: integer(env, 'GPU_NODE_HEARTBEAT_SECONDS', 5, 1, 300) * 1000,
  }
}

/** A flat JSON object of the same variable names; anything else is refused by name. */
function readConfigFile(path: string): Record<string, string> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new ConfigError(`GPU_NODE_CONFIG=${path} cannot be read: ${(error as Error).message}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    // V8 quotes the text around the error, and the file holds the secret: give only where it is.
    const at = /position (\d+)/.exec((error as Error).message)?.[1]
    const where = at === undefined ? '' : ` (at character ${at})`
    throw new ConfigError(`GPU_NODE_CONFIG=${path} is not valid JSON${where}.`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`GPU_NODE_CONFIG=${path} must hold a JSON object of settings.`)
  }
  const values: Record<string, string> = {}
  for (const [key, value] of Object.entries(parsed)) {
    if (!(CONFIG_VARIABLES as readonly string[]).includes(key)) {
      throw new ConfigError(
        `${path}: unknown setting "${key}". Known: ${CONFIG_VARIABLES.join(', ')}.`,
      )
    }
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new ConfigError(`${path}: "${key}" must be a string or a number.`)
    }
    values[key] = String(value)
  }
  return values
}

function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '',
    ),
  )
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
