/**
 * @module
 * `npm run worker`: the worker alone in `wrangler dev` on 127.0.0.1:8787, pointed at GPU_NODES
 * (default: the local node on 8790). DEV_API_KEY and GPU_NODE_SECRET come from the environment and must
 * match what the GPU node was started with.
 */
import { startWorkerDev } from './lib/wrangler-dev.ts'

const missing = ['DEV_API_KEY', 'GPU_NODE_SECRET'].filter((name) => !process.env[name])
if (missing.length > 0) {
  console.error(
    `Set ${missing.join(' and ')} (the GPU node needs the same GPU_NODE_SECRET), or use \`npm start\`, which sets both.`,
  )
  process.exit(2)
}
const worker = await startWorkerDev({
  port: 8787,
  gpuNodes: process.env.GPU_NODES || 'http://127.0.0.1:8790',
  devApiKey: process.env.DEV_API_KEY!,
  gpuNodeSecret: process.env.GPU_NODE_SECRET!,
})
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => void worker.stop().then(() => process.exit(0)))
}
process.exitCode = (await worker.exited) ?? 1
