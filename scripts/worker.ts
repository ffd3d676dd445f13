/**
 * @module
 * `npm run worker`: the worker alone in `wrangler dev` on 127.0.0.1:8787 (WORKER_PORT), pointed at GPU_NODES
 * (default: the local node on 8790). GPU_NODE_SECRET comes from the environment and must match what the
 * GPU node was started with; ADMIN_TOKEN defaults to `dev-admin-token`. When DEV_API_KEY is set, the
 * development tenant is seeded with that key (as `npm start` does); otherwise tenants are left to
 * `npm run admin`.
 */
import { createAdminClient } from './lib/admin-client.ts'
import { waitForHttp } from './lib/process-group.ts'
import { seedDevTenant } from './lib/seed-dev-tenant.ts'
import {
  developerSetting,
  startWorkerDev,
  workerPortOrExit,
  workerStateFolder,
} from './lib/wrangler-dev.ts'

// From the shell or .dev.vars: the launcher writes these into its own env file, which wins over
// .dev.vars, so it must read them from there itself.
const gpuNodeSecret = developerSetting('GPU_NODE_SECRET')
if (!gpuNodeSecret) {
  console.error(
    'Set GPU_NODE_SECRET (the GPU node needs the same value), or use `npm start`, which sets it.',
  )
  process.exit(2)
}
const adminToken = developerSetting('ADMIN_TOKEN') || 'dev-admin-token'
const port = workerPortOrExit()
const workerUrl = `http://127.0.0.1:${port}`
const worker = await startWorkerDev({
  port,
  persistTo: workerStateFolder(port),
  // Set but empty: static nodes none, heartbeats only (as `GPU_NODES = ""` in wrangler.toml).
  gpuNodes: developerSetting('GPU_NODES') ?? 'http://127.0.0.1:8790',
  gpuNodeSecret,
  adminToken,
  developerSettings: true,
})
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => void worker.stop().then(() => process.exit(0)))
}
if (process.env.DEV_API_KEY) {
  try {
    await waitForHttp(`${workerUrl}/health`, worker, 60_000)
    await seedDevTenant(createAdminClient(workerUrl, adminToken), process.env.DEV_API_KEY)
  } catch (error) {
    console.error(`Seeding the development tenant failed: ${(error as Error).message}`)
    await worker.stop()
    process.exit(1)
  }
}
process.exitCode = (await worker.exited) ?? 1
