/**
 * @module
 * The whole stack as a user runs it, for end-to-end tests and the benchmark: a GPU node process and the
 * worker in `wrangler dev`, each on a free loopback port, with fresh secrets and throw-away local state, and
 * the development tenant seeded through the admin API (with a generated key, as `npm start` does).
 * `startFleet`: the worker with several GPU node processes that join by signed heartbeats.
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
  /** The GPU node's process id (for its memory, in the bench). */
  nodePid: number
  stop(): Promise<void>
}

export interface NodeProcess {
  url: string
  port: number
  service: Service
  secret: string
}

/**
 * A GPU node process on a free loopback port (or `port`), with a fresh secret unless `env` sets
 * `GPU_NODE_SECRET`. Resolves once its `/health` answers.
 */
export async function startNodeProcess(
  env: Record<string, string>,
  port?: number,
): Promise<NodeProcess> {
  port ??= await freePort()
  const secret = env.GPU_NODE_SECRET ?? randomBytes(18).toString('base64url')
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
  return { url, port, service, secret }
}

export async function startStack(
  nodeEnv: Record<string, string> = {},
  workerVars: Record<string, string> = {},
): Promise<Stack> {
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
      vars: workerVars,
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
    nodePid: node.service.child.pid!,
    async stop() {
      await Promise.all([node.service.stop(), worker?.stop()])
      await rm(state, { recursive: true, force: true })
    },
  }
}

export interface Fleet {
  workerUrl: string
  apiKey: string
  adminToken: string
  /** The secret every node and the edge share. */
  secret: string
  /** Running node processes by node id (`node-0`, `node-1`, …). */
  nodes: Map<string, NodeProcess>
  /** (Re)starts node `id`, on `port` when given, registering by heartbeat like the others. */
  startNode(id: string, port?: number): Promise<NodeProcess>
  stop(): Promise<void>
}

export interface FleetOptions {
  nodes: number
  /** Environment of every node (e.g. `GEMMA_MODEL_DIR`). */
  nodeEnv: Record<string, string>
  /** Worker variables (routing overrides). */
  vars?: Record<string, string>
}

/**
 * The worker with no static nodes and `nodes` GPU node processes that join it by signed heartbeats
 * (one per second), as a fleet behind tunnels does. Resolves once every node is registered and healthy.
 */
export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const state = await mkdtemp(join(tmpdir(), 'gemma-edge-fleet-'))
  const port = await freePort()
  const workerUrl = `http://127.0.0.1:${port}`
  const adminToken = randomBytes(18).toString('base64url')
  const secret = randomBytes(18).toString('base64url')
  const nodes = new Map<string, NodeProcess>()
  const services: Service[] = []
  const startNode = async (id: string, nodePort?: number) => {
    const env = {
      ...options.nodeEnv,
      GPU_NODE_SECRET: secret,
      GPU_NODE_EDGE_URL: workerUrl,
      GPU_NODE_ID: id,
      GPU_NODE_HEARTBEAT_SECONDS: '1',
    }
    const node = await startNodeProcess(env, nodePort)
    nodes.set(id, node)
    services.push(node.service)
    return node
  }
  const stop = async () => {
    await Promise.all(services.map((service) => service.stop()))
    await rm(state, { recursive: true, force: true })
  }
  try {
    const worker = await startWorkerDev({
      port,
      gpuNodes: '',
      gpuNodeSecret: secret,
      adminToken,
      persistTo: state,
      stdio: 'ignore',
      vars: options.vars,
    })
    services.push(worker)
    await waitForHttp(`${workerUrl}/health`, worker, 90_000)
    const { key } = await seedDevTenant(createAdminClient(workerUrl, adminToken))
    await Promise.all(Array.from({ length: options.nodes }, (_, i) => startNode(`node-${i}`)))
    await waitForFleet(workerUrl, options.nodes)
    return { workerUrl, apiKey: key, adminToken, secret, nodes, startNode, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

/** Polls the edge's `/health` until `count` nodes are registered and healthy. */
export async function waitForFleet(workerUrl: string, count: number): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const health = (await (await fetch(`${workerUrl}/health`)).json()) as {
      nodes: { healthy: number; total: number }
    }
    if (health.nodes.healthy === count && health.nodes.total === count) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`The fleet did not reach ${count} healthy nodes within 60 s.`)
}
