/**
 * @module
 * A control for the edge's TTFT target: what `wrangler dev` costs a worker that does nothing. The same
 * one-line worker (it answers "ok") runs in `wrangler dev` and in workerd on its own socket, and the
 * round trips of the two are timed alternately on the same, otherwise idle, machine. The difference is
 * the dev tool's own cost (its proxy workerd, its Durable Object queue, the second entry worker, its
 * request log line), which every request through `wrangler dev` pays before any gemma-edge code runs
 * and which production, where the worker has its own socket, does not have. A third run, with
 * `--log-level warn`, tells the request log line (sent to wrangler's Node process on every request) apart
 * from the proxy: a level that also hides the worker's own log lines, so `npm start` keeps the default.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Miniflare, convertV4MiniflareOptions } from 'miniflare'
import { startService, waitForHttp } from '../../scripts/lib/process-group.ts'
import type { Service } from '../../scripts/lib/process-group.ts'
import { WRANGLER_BIN, wranglerDevArgs, wranglerEnv } from '../../scripts/lib/wrangler-dev.ts'
import { freePort } from '../support/free-port.ts'
import { roundTripP50 } from './load.ts'

const WORKER = 'export default { fetch: () => new Response("ok") }\n'
const COMPATIBILITY_DATE = '2025-09-01'

export interface DevProxyCost {
  /** Round trip p50 of the empty worker through `wrangler dev`. */
  wrangler_dev_p50_ms: number
  /** The same worker in workerd, on its own socket. */
  workerd_p50_ms: number
  /** Through `wrangler dev --log-level warn`: no request log line. */
  wrangler_dev_quiet_p50_ms: number
}

/** Times the empty worker both ways, `rounds` alternations of `count` round trips each (medians kept). */
export async function measureDevProxyCost(rounds = 3, count = 100): Promise<DevProxyCost> {
  const folder = await mkdtemp(join(tmpdir(), 'gemma-edge-empty-worker-'))
  let dev: Service | null = null
  let quiet: Service | null = null
  let direct: Miniflare | null = null
  try {
    await writeFile(join(folder, 'index.js'), WORKER)
    await writeFile(
      join(folder, 'wrangler.toml'),
      `name = "empty"\nmain = "index.js"\ncompatibility_date = "${COMPATIBILITY_DATE}"\n`,
    )
    const devPort = await freePort()
    dev = startService('empty worker (wrangler dev)', WRANGLER_BIN, wranglerDevArgs(devPort), {
      cwd: folder,
      stdio: 'ignore',
      env: wranglerEnv(),
    })
    const devUrl = `http://127.0.0.1:${devPort}/`
    await waitForHttp(devUrl, dev, 90_000)
    const quietPort = await freePort()
    const quietArgs = [...wranglerDevArgs(quietPort), '--log-level', 'warn']
    quiet = startService('empty worker (wrangler dev, quiet)', WRANGLER_BIN, quietArgs, {
      cwd: folder,
      stdio: 'ignore',
      env: wranglerEnv(),
    })
    const quietUrl = `http://127.0.0.1:${quietPort}/`
    await waitForHttp(quietUrl, quiet, 90_000)
    const directPort = await freePort()
    direct = new Miniflare(
      convertV4MiniflareOptions({
        name: 'empty',
        modules: true,
        script: WORKER,
        compatibilityDate: COMPATIBILITY_DATE,
        unsafeDirectSockets: [{ host: '127.0.0.1', port: directPort }],
        host: '127.0.0.1',
        port: 0,
      } as Parameters<typeof convertV4MiniflareOptions>[0]),
    )
    await direct.ready
    const directUrl = `http://127.0.0.1:${directPort}/`
    const viaDev: number[] = []
    const viaWorkerd: number[] = []
    const viaQuiet: number[] = []
    for (let round = 0; round < rounds; round++) {
      viaDev.push(await roundTripP50(devUrl, count))
      viaWorkerd.push(await roundTripP50(directUrl, count))
      viaQuiet.push(await roundTripP50(quietUrl, count))
    }
    return {
      wrangler_dev_p50_ms: median(viaDev),
      workerd_p50_ms: median(viaWorkerd),
      wrangler_dev_quiet_p50_ms: median(viaQuiet),
    }
  } finally {
    await direct?.dispose()
    await dev?.stop()
    await quiet?.stop()
    await rm(folder, { recursive: true, force: true })
  }
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
}
