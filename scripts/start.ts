/**
 * @module
 * `npm start`: the whole stack on this machine, offline. A GPU node (the built-in contract model unless
 * GEMMA_MODEL_DIR is set) and the worker in `wrangler dev`, then the development tenant, seeded through the
 * admin API (`DEV_API_KEY` imported when set, else a fresh key). Prints the URLs and the key; Ctrl-C stops
 * everything it started.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { ensureContractModel } from '../gpu-node/contract-model/cache.ts'
import { createAdminClient } from './lib/admin-client.ts'
import { ensurePortFree, startService, waitForHttp } from './lib/process-group.ts'
import type { Service } from './lib/process-group.ts'
import { seedDevTenant } from './lib/seed-dev-tenant.ts'
import {
  REPO_ROOT,
  developerSetting,
  portOrExit,
  startWorkerDev,
  workerPortOrExit,
  workerStateFolder,
} from './lib/wrangler-dev.ts'

const WORKER_PORT = workerPortOrExit()
const nodePort = portOrExit('GPU_NODE_PORT', 8790)
const adminToken = developerSetting('ADMIN_TOKEN') || 'dev-admin-token'
const gpuNodeSecret = process.env.GPU_NODE_SECRET || randomBytes(24).toString('base64url')
const services: Service[] = []

async function stopAll(code: number): Promise<never> {
  await Promise.all(services.map((service) => service.stop()))
  process.exit(code)
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => void stopAll(0))
}

try {
  await ensurePortFree(nodePort, 'GPU_NODE_PORT')
  await ensurePortFree(WORKER_PORT, 'WORKER_PORT')
  if (!process.env.GEMMA_MODEL_DIR) {
    console.log(
      'Preparing the built-in contract model (random weights; generated once, then cached)...',
    )
    console.log(`  ${await ensureContractModel()}`)
  }
  const node = startService(
    'GPU node',
    process.execPath,
    [join(REPO_ROOT, 'gpu-node', 'main.ts')],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, GPU_NODE_PORT: String(nodePort), GPU_NODE_SECRET: gpuNodeSecret },
    },
  )
  services.push(node)
  await waitForHttp(`http://127.0.0.1:${nodePort}/health`, node, 180_000)
  const worker = await startWorkerDev({
    port: WORKER_PORT,
    persistTo: workerStateFolder(WORKER_PORT),
    gpuNodes: `http://127.0.0.1:${nodePort}`,
    gpuNodeSecret,
    adminToken,
    developerSettings: true,
  })
  services.push(worker)
  const workerUrl = `http://127.0.0.1:${WORKER_PORT}`
  await waitForHttp(`${workerUrl}/health`, worker, 60_000)
  const admin = createAdminClient(workerUrl, adminToken)
  const { key: devApiKey } = await seedDevTenant(admin, process.env.DEV_API_KEY || undefined)
  console.log(
    [
      '',
      'gemma-edge is running.',
      `  API (OpenAI-compatible): http://127.0.0.1:${WORKER_PORT}/v1`,
      `  GPU node:                http://127.0.0.1:${nodePort}`,
      `  Dev API key:             ${devApiKey}`,
      `  Admin API:               ${workerUrl}/admin (ADMIN_TOKEN=${adminToken}; npm run admin -- --help)`,
      developerSetting('PLAYGROUND_ENABLED') === 'true'
        ? `  Playground:              ${workerUrl}/playground`
        : '  Playground:              off (PLAYGROUND_ENABLED=true npm start serves it at /playground)',
      '',
      `  curl http://127.0.0.1:${WORKER_PORT}/v1/chat/completions -H "Authorization: Bearer ${devApiKey}" \\`,
      `    -H 'content-type: application/json' -d '{"model":"gemma-3n-e2b-it","messages":[{"role":"user","content":"Hi"}],"stream":true}'`,
      '',
      'Ctrl-C stops everything.',
    ].join('\n'),
  )
  // If either part dies, take the other down too: a half-running stack only confuses.
  const first = await Promise.race(services.map((s) => s.exited.then(() => s)))
  console.error(`${first.name} exited; stopping the rest.`)
  await stopAll(1)
} catch (error) {
  console.error((error as Error).message)
  await stopAll(1)
}
