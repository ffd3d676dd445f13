/**
 * @module
 * The whole stack as a user runs it, for end-to-end tests and the benchmark: a GPU node process and the
 * worker in `wrangler dev`, each on a free loopback port, with fresh secrets and throw-away local state, and
 * the development tenant seeded through the admin API (with a generated key, as `npm start` does).
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAdminClient } from '../../scripts/lib/admin-client.ts'
import { startService, waitForHttp } from '../../scripts/lib/process-group.ts'
import type { Service } from '../../scripts/lib/process-group.ts'
import { seedDevTenant } from '../../scripts/lib/seed-dev-tenant.ts'
import { REPO_ROOT, startWorkerDev } from '../../scripts/lib/wrangler-dev.ts'
import { freePort } from './free-port.ts'

export interface Stack {
  workerUrl: string
  nodeUrl: string
  apiKey: string
  /** The development tenant's id. */
  tenantId: string
  adminToken: string
  nodeSecret: string
  stop(): Promise<void>
}

export async function startNodeProcess(
  env: Record<string, string>,
): Promise<{ url: string; service: Service; secret: string }> {
  const port = await freePort()
  const secret = randomBytes(18).toString('base64url')
  const service = startService(
    'GPU node',
    process.execPath,
    [join(REPO_ROOT, 'gpu-node', 'main.ts')],
    {
      cwd: REPO_ROOT,
      stdio: 'ignore',
      env: { ...process.env, ...env, GPU_NODE_PORT: String(port), GPU_NODE_SECRET: secret },
    },
  )
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(`${url}/health`, service, 240_000)
  return { url, service, secret }
}

export async function startStack(nodeEnv: Record<string, string> = {}): Promise<Stack> {
  const node = await startNodeProcess(nodeEnv)
  const state = await mkdtemp(join(tmpdir(), 'gemma-edge-state-'))
  const port = await freePort()
  const adminToken = randomBytes(18).toString('base64url')
  const workerUrl = `http://127.0.0.1:${port}`
  let worker: Service | null = null
  let seeded: { tenantId: string; key: string }
  try {
    worker = await startWorkerDev({
      port,
      gpuNodes: node.url,
      gpuNodeSecret: node.secret,
      adminToken,
      persistTo: state,
      stdio: 'ignore',
    })
    await waitForHttp(`${workerUrl}/health`, worker, 90_000)
    seeded = await seedDevTenant(createAdminClient(workerUrl, adminToken))
  } catch (error) {
    await Promise.all([node.service.stop(), worker?.stop()])
    throw error
  }
  return {
    workerUrl,
    nodeUrl: node.url,
    apiKey: seeded.key,
    tenantId: seeded.tenantId,
    adminToken,
    nodeSecret: node.secret,
    async stop() {
      await Promise.all([node.service.stop(), worker?.stop()])
      await rm(state, { recursive: true, force: true })
    },
  }
}
