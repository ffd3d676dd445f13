/**
 * @module
 * Starts the worker in `wrangler dev`, fully offline, with its secrets passed through a private env file
 * (wrangler shows env-file values as hidden, while `--var` values are printed in its banner).
 */
import { chmod, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { startService } from './process-group.ts'
import type { Service } from './process-group.ts'

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..')

export interface WorkerDevOptions {
  port: number
  gpuNodes: string
  devApiKey: string
  gpuNodeSecret: string
  /** Where KV/D1/Durable Object state persists; default `.wrangler/state`. */
  persistTo?: string
  stdio?: 'inherit' | 'ignore'
}

export async function startWorkerDev(options: WorkerDevOptions): Promise<Service> {
  const folder = await mkdtemp(join(tmpdir(), 'gemma-edge-worker-'))
  const envFile = join(folder, '.dev.vars')
  const lines = [
    `DEV_API_KEY=${options.devApiKey}`,
    `GPU_NODE_SECRET=${options.gpuNodeSecret}`,
    `GPU_NODES=${options.gpuNodes}`,
  ]
  await writeFile(envFile, lines.join('\n') + '\n', { mode: 0o600 })
  await chmod(envFile, 0o600)
  const args = [
    'dev',
    '--port',
    String(options.port),
    '--ip',
    '127.0.0.1',
    '--show-interactive-dev-session=false',
    '--env-file',
    envFile,
    ...(options.persistTo ? ['--persist-to', options.persistTo] : []),
  ]
  return startService(
    'worker (wrangler dev)',
    join(REPO_ROOT, 'node_modules', '.bin', 'wrangler'),
    args,
    {
      cwd: REPO_ROOT,
      stdio: options.stdio ?? 'inherit',
      env: {
        ...process.env,
        // Wrangler's bin runs on the Node that comes first on PATH: the project's own (>= 22.12).
        PATH: `${join(REPO_ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
        WRANGLER_SEND_METRICS: 'false',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        WRANGLER_HIDE_BANNER: 'true',
        CI: 'true',
      },
    },
  )
}
