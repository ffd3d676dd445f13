/**
 * @module
 * The edge as Cloudflare runs it, for the bench: the bundle `wrangler deploy` would upload, in one workerd,
 * with the bindings of wrangler.toml backed by Miniflare (D1 with the repo's migrations, KV, SQLite Durable
 * Objects, all persisted on disk like `wrangler dev`), and the worker listening on its own socket.
 * `wrangler dev` puts its proxy worker in front of that (a second workerd that re-fetches every request,
 * and a request log line formatted in wrangler's Node process): measured on a 2-core VM, 5 to 8 ms of a
 * streamed request's first token and about 12 ms of CPU per 8-token request, on the cores the GPU node
 * uses. The bench measures the edge both ways, so the worker's own cost and the dev proxy's can be told
 * apart.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { promisify } from 'node:util'
import { Miniflare, convertV4MiniflareOptions } from 'miniflare'
import { unstable_getMiniflareWorkerOptions } from 'wrangler'
import { createAdminClient } from '../../scripts/lib/admin-client.ts'
import { seedDevTenant } from '../../scripts/lib/seed-dev-tenant.ts'
import { REPO_ROOT, WRANGLER_BIN, wranglerEnv } from '../../scripts/lib/wrangler-dev.ts'
import { freePort } from '../support/free-port.ts'

export interface WorkerdEdge {
  url: string
  apiKey: string
  stop(): Promise<void>
}

const run = promisify(execFile)

/** Runs the project's wrangler offline (the same environment as `startWorkerDev`). */
async function wrangler(args: string[]): Promise<void> {
  await run(WRANGLER_BIN, args, { cwd: REPO_ROOT, env: wranglerEnv() })
}

/**
 * Bundles the worker, applies the D1 migrations to a fresh state folder, starts it in workerd on a
 * loopback port of its own and seeds the development tenant.
 * @example
 * const edge = await startWorkerdEdge({ gpuNodes: node.url, gpuNodeSecret: node.secret })
 * try { await runLevel(edge.url, edge.apiKey, 1, 64) } finally { await edge.stop() }
 */
export async function startWorkerdEdge(options: {
  gpuNodes: string
  gpuNodeSecret: string
}): Promise<WorkerdEdge> {
  const dist = await mkdtemp(join(tmpdir(), 'gemma-edge-bundle-'))
  const state = await mkdtemp(join(tmpdir(), 'gemma-edge-state-'))
  const removeFolders = () =>
    Promise.all([dist, state].map((path) => rm(path, { recursive: true, force: true })))
  let mf: Miniflare | null = null
  try {
    await wrangler(['deploy', '--dry-run', '--outdir', dist])
    await wrangler(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', state])
    const config = unstable_getMiniflareWorkerOptions(join(REPO_ROOT, 'wrangler.toml'))
    // Miniflare 5 takes the module list itself: the bundle and the WASM codecs wrangler wrote beside it.
    const workerOptions: Record<string, unknown> = { ...config.workerOptions }
    delete workerOptions.modulesRules
    delete workerOptions.rootPath
    const wasm = (await readdir(dist)).filter((file) => file.endsWith('.wasm'))
    const port = await freePort()
    const adminToken = randomBytes(18).toString('base64url')
    mf = new Miniflare(
      convertV4MiniflareOptions({
        ...workerOptions,
        name: 'gemma-edge',
        modulesRoot: dist,
        modules: [
          { type: 'ESModule', path: join(dist, 'index.js') },
          ...wasm.map((file) => ({ type: 'CompiledWasm' as const, path: join(dist, file) })),
        ],
        bindings: {
          ...(workerOptions.bindings as Record<string, unknown>),
          ADMIN_TOKEN: adminToken,
          GPU_NODE_SECRET: options.gpuNodeSecret,
          GPU_NODES: options.gpuNodes,
        },
        // The worker's own socket: no Miniflare entry worker in between, as in production.
        unsafeDirectSockets: [{ host: '127.0.0.1', port }],
        host: '127.0.0.1',
        port: 0,
        // The layout `wrangler dev --persist-to` uses, so the migrated D1 database is the one served.
        resourcePersistencePath: join(state, 'v3'),
        // The request log lines are not read here; errors still reach the terminal.
        handleRuntimeStdio(stdout: Readable, stderr: Readable) {
          stdout.resume()
          stderr.pipe(process.stderr)
        },
      } as Parameters<typeof convertV4MiniflareOptions>[0]),
    )
    await mf.ready
    const url = `http://127.0.0.1:${port}`
    const { key } = await seedDevTenant(createAdminClient(url, adminToken))
    const started = mf
    return {
      url,
      apiKey: key,
      async stop() {
        await started.dispose()
        await removeFolders()
      },
    }
  } catch (error) {
    await mf?.dispose()
    await removeFolders()
    throw error
  }
}
