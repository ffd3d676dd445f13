/**
 * @module
 * Starts the worker in `wrangler dev`, fully offline, with its secrets passed through a private env file
 * (wrangler shows env-file values as hidden, while `--var` values are printed in its banner). The local D1
 * database gets its migrations first (`wrangler d1 migrations apply --local`, a no-op when up to date).
 * Given an env file, wrangler no longer reads the repo's `.dev.vars` by itself: the launchers ask for it
 * (`developerSettings`), as the first of the files, so that what they set themselves wins.
 */
import { existsSync, readFileSync } from 'node:fs'
import { chmod, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseEnv } from 'node:util'
import { startService } from './process-group.ts'
import type { Service } from './process-group.ts'

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..')
export const WRANGLER_BIN = join(REPO_ROOT, 'node_modules', '.bin', 'wrangler')

/** The worker's local URL is http://127.0.0.1:8787 unless WORKER_PORT says otherwise. */
export const DEFAULT_WORKER_PORT = 8787

/**
 * The port `npm start`, `npm run worker` and `npm run admin` use for the worker: WORKER_PORT, so that a
 * second stack can run beside the first; 8787 when unset.
 * @throws Error naming the variable when it is not a port number
 */
export function workerPort(env: NodeJS.ProcessEnv = process.env): number {
  return portSetting('WORKER_PORT', DEFAULT_WORKER_PORT, env)
}

/** A port number from the environment variable `name`, `fallback` when unset; throws naming it. */
export function portSetting(name: string, fallback: number, env = process.env): number {
  const text = env[name]?.trim()
  if (!text) return fallback
  const port = Number(text)
  if (!/^\d+$/.test(text) || port < 1 || port > 65535)
    throw new Error(`${name} must be a port number from 1 to 65535, not "${text.slice(0, 16)}".`)
  return port
}

/**
 * Where a launcher's worker keeps its local D1, KV and Durable Object state: wrangler's default folder on
 * the default port, and a folder of its own on any other, so that a second stack (WORKER_PORT and
 * GPU_NODE_PORT both moved) has its own tenants and dev key instead of revoking the first one's.
 */
export function workerStateFolder(port: number): string | undefined {
  return port === DEFAULT_WORKER_PORT ? undefined : join(REPO_ROOT, '.wrangler', `state-${port}`)
}

/** `portSetting()` for a launcher: a bad port is one line and exit 2, not a stack. */
export function portOrExit(name: string, fallback: number): number {
  try {
    return portSetting(name, fallback)
  } catch (error) {
    console.error((error as Error).message)
    process.exit(2)
  }
}

export function workerPortOrExit(): number {
  return portOrExit('WORKER_PORT', DEFAULT_WORKER_PORT)
}

/** The environment every wrangler command of the project runs in: offline, quiet, no telemetry. */
export function wranglerEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // Wrangler's bin runs on the Node that comes first on PATH: the project's own (>= 22.12).
    PATH: `${join(REPO_ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
    WRANGLER_SEND_METRICS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    WRANGLER_HIDE_BANNER: 'true',
    // Wrangler's local trace collector and data explorer record every request, binding call and Durable
    // Object call to disk: measured, they doubled workerd's CPU per chat request (26 ms against 14 ms), on
    // the same cores as the GPU node. gemma-edge logs its own request lines instead.
    X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? 'false',
    X_LOCAL_EXPLORER: process.env.X_LOCAL_EXPLORER ?? 'false',
    CI: 'true',
  }
}

/** `wrangler dev` on a loopback port, without the interactive hotkeys (no terminal to read them). */
export function wranglerDevArgs(port: number): string[] {
  return [
    'dev',
    '--port',
    String(port),
    '--ip',
    '127.0.0.1',
    '--show-interactive-dev-session=false',
  ]
}

export interface WorkerDevOptions {
  port: number
  gpuNodes: string
  gpuNodeSecret: string
  /** Bearer token of the admin API. */
  adminToken: string
  /** Where KV/D1/Durable Object state persists; default `.wrangler/state`. */
  persistTo?: string
  stdio?: 'inherit' | 'ignore'
  /** More variables for the worker, e.g. routing overrides (`GPU_ROUTE_ATTEMPT_TIMEOUT_MS`). */
  vars?: Record<string, string>
  /**
   * `npm start` / `npm run worker`: also read the repo's `.dev.vars` and the worker settings exported in
   * the shell (`WORKER_SETTINGS`). Tests leave it off, so that a developer's settings cannot change them.
   */
  developerSettings?: boolean
}

/** The worker's optional settings (README, Configuration) that a launcher takes from the shell. */
export const WORKER_SETTINGS = [
  'GPU_NODE_SECRETS',
  'GPU_ROUTE_MAX_ATTEMPTS',
  'GPU_ROUTE_ATTEMPT_TIMEOUT_MS',
  'GPU_ROUTE_DEADLINE_MS',
  'GPU_NODE_TTL_MS',
  'GPU_BREAKER_FAILURES',
  'GPU_BREAKER_COOLDOWN_MS',
  'PLAYGROUND_ENABLED',
  'DO_LOCATION_HINT',
] as const

/** Where a developer keeps local worker settings and secrets (gitignored). */
export const DEV_VARS_FILE = join(REPO_ROOT, '.dev.vars')

/**
 * A setting as the developer gave it: exported in the shell, else in `.dev.vars` (which wrangler reads,
 * and where a launcher's own default must not silently replace it), else `undefined`. Set but empty is
 * `''` (`GPU_NODES=`: no static nodes).
 * @example const adminToken = developerSetting('ADMIN_TOKEN') || 'dev-admin-token'
 */
export function developerSetting(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
  devVarsFile = DEV_VARS_FILE,
): string | undefined {
  if (env[name] !== undefined) return env[name]
  if (!existsSync(devVarsFile)) return undefined
  return parseEnv(readFileSync(devVarsFile, 'utf8'))[name]
}

/**
 * The variables to write into the launcher's own env file, and the env files to hand wrangler in order
 * (a later file wins): the developer's `.dev.vars` first, when asked for and present, then the launcher's.
 */
export function workerDevSettings(
  options: WorkerDevOptions,
  launcherFile: string,
  env: NodeJS.ProcessEnv = process.env,
  devVarsFile = DEV_VARS_FILE,
): { vars: Record<string, string>; envFiles: string[] } {
  const fromShell = options.developerSettings
    ? WORKER_SETTINGS.flatMap((name) => (env[name] ? [[name, env[name]] as const] : []))
    : []
  const vars = {
    ...Object.fromEntries(fromShell),
    ADMIN_TOKEN: options.adminToken,
    GPU_NODE_SECRET: options.gpuNodeSecret,
    GPU_NODES: options.gpuNodes,
    ...options.vars,
  }
  const withDevVars = options.developerSettings && existsSync(devVarsFile)
  return { vars, envFiles: withDevVars ? [devVarsFile, launcherFile] : [launcherFile] }
}

export async function startWorkerDev(options: WorkerDevOptions): Promise<Service> {
  const folder = await mkdtemp(join(tmpdir(), 'gemma-edge-worker-'))
  const envFile = join(folder, '.dev.vars')
  const { vars, envFiles } = workerDevSettings(options, envFile)
  const lines = Object.entries(vars).map(([name, value]) => `${name}=${value}`)
  await writeFile(envFile, lines.join('\n') + '\n', { mode: 0o600 })
  await chmod(envFile, 0o600)
  const args = [
    ...wranglerDevArgs(options.port),
    ...envFiles.flatMap((file) => ['--env-file', file]),
  ]
  const persist = options.persistTo ? ['--persist-to', options.persistTo] : []
  const spawnOptions = {
    cwd: REPO_ROOT,
    stdio: options.stdio ?? 'inherit',
    env: wranglerEnv(),
  } as const
  const migrate = startService(
    'D1 migrations (wrangler)',
    WRANGLER_BIN,
    ['d1', 'migrations', 'apply', 'DB', '--local', ...persist],
    spawnOptions,
  )
  const code = await migrate.exited
  if (code !== 0) throw new Error(`Applying the D1 migrations failed (exit code ${code}).`)
  return startService('worker (wrangler dev)', WRANGLER_BIN, [...args, ...persist], spawnOptions)
}
