/**
 * @module
 * Media shaping benchmark: the edge's own shaping code in workerd (`wrangler dev`), on the WASM path and
 * the local Images binding, per image and per 30 s clip, with bytes received and forwarded, against sharp
 * (libvips, one thread) doing the same downscale in Node as the yardstick. Times are client round trips
 * to the local worker; the `noop` row is the round-trip floor included in each.
 * `node test/bench/media/run.ts` prints a table; `runMediaBench()` returns the results.
 * BENCH_MEDIA_RUNS (default 10) sets the timed runs per cell, after one warm-up.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { startService, waitForHttp } from '../../../scripts/lib/process-group.ts'
import { REPO_ROOT, WRANGLER_BIN, wranglerEnv } from '../../../scripts/lib/wrangler-dev.ts'
import { freePort } from '../../support/free-port.ts'
import { makeFixtures } from './fixtures.ts'
import type { MediaFixture } from './fixtures.ts'

export interface MediaBenchRow {
  input: string
  path: 'wasm' | 'images-binding' | 'sharp' | 'noop'
  /** Client round trip (includes the upload through wrangler dev and the `noop` floor). */
  p50Ms: number
  p95Ms: number
  /** Inside the isolate, around the shaping call only (sharp: same as the round trip). */
  shapeP50Ms: number
  shapeP95Ms: number
  bytesIn: number
  bytesOut: number
}

export interface MediaBenchResults {
  runs: number
  rows: MediaBenchRow[]
  /** 12 MP JPEG to 768 px: WASM shaping p50 (in the isolate) over sharp p50 (target <= 3). */
  jpegWasmToSharpRatio: number
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN
}

interface Once {
  bytesOut: number
  /** Time measured by the worker itself, when there is one. */
  shapeMs?: number
}

interface Timing {
  p50: number
  p95: number
  shapeP50: number
  shapeP95: number
  bytesOut: number
}

async function timed(runs: number, once: () => Promise<Once>): Promise<Timing> {
  let last = await once() // warm-up: module instantiation, JIT
  const times: number[] = []
  const inside: number[] = []
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    last = await once()
    const elapsed = performance.now() - start
    times.push(elapsed)
    inside.push(last.shapeMs ?? elapsed)
  }
  times.sort((a, b) => a - b)
  inside.sort((a, b) => a - b)
  return {
    p50: percentile(times, 0.5),
    p95: percentile(times, 0.95),
    shapeP50: percentile(inside, 0.5),
    shapeP95: percentile(inside, 0.95),
    bytesOut: last.bytesOut,
  }
}

async function post(url: string, base64: string): Promise<Once> {
  const response = await fetch(url, { method: 'POST', body: base64 })
  const body = (await response.json()) as Once & { error?: string }
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${JSON.stringify(body)}`)
  return body
}

/** sharp: decode (with its own JPEG shrink-on-load), 768 px fit-inside, JPEG q85, one thread. */
function sharpOnce(bytes: Uint8Array): () => Promise<Once> {
  return async () => {
    const out = await sharp(bytes)
      .rotate()
      .resize(768, 768, { fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 85 })
      .toBuffer()
    return { bytesOut: out.length }
  }
}

function rounded(t: Timing) {
  const r = (ms: number) => Math.round(ms * 10) / 10
  return { p50Ms: r(t.p50), p95Ms: r(t.p95), shapeP50Ms: r(t.shapeP50), shapeP95Ms: r(t.shapeP95) }
}

async function benchFixture(
  base: string,
  fixture: MediaFixture,
  runs: number,
): Promise<MediaBenchRow[]> {
  const row = (path: MediaBenchRow['path'], t: Timing): MediaBenchRow => ({
    input: fixture.name,
    path,
    ...rounded(t),
    bytesIn: fixture.bytes.length,
    bytesOut: t.bytesOut,
  })
  const base64 = Buffer.from(fixture.bytes).toString('base64')
  if (fixture.kind === 'audio') {
    return [row('wasm', await timed(runs, () => post(`${base}/audio?${fixture.query}`, base64)))]
  }
  return [
    row('wasm', await timed(runs, () => post(`${base}/image?path=wasm`, base64))),
    row('images-binding', await timed(runs, () => post(`${base}/image?path=binding`, base64))),
    row('sharp', await timed(runs, sharpOnce(fixture.bytes))),
  ]
}

/** Starts the bench worker, measures every fixture on every path, stops the worker. */
export async function runMediaBench(
  runs = Number(process.env.BENCH_MEDIA_RUNS ?? 10),
): Promise<MediaBenchResults> {
  sharp.concurrency(1)
  const fixtures = await makeFixtures()
  const port = await freePort()
  const state = await mkdtemp(join(tmpdir(), 'gemma-edge-media-bench-'))
  const config = join(REPO_ROOT, 'test', 'bench', 'media', 'wrangler.toml')
  const args = ['dev', '--config', config, '--port', String(port), '--ip', '127.0.0.1']
  const worker = startService(
    'media bench worker',
    WRANGLER_BIN,
    [...args, '--show-interactive-dev-session=false', '--persist-to', state],
    { cwd: REPO_ROOT, stdio: 'ignore', env: wranglerEnv() },
  )
  const base = `http://127.0.0.1:${port}`
  try {
    await waitForHttp(`${base}/noop`, worker, 90_000)
    const rows: MediaBenchRow[] = []
    const noop = await timed(runs, () => post(`${base}/noop`, ''))
    rows.push({ input: '(round trip)', path: 'noop', ...rounded(noop), bytesIn: 0, bytesOut: 0 })
    for (const fixture of fixtures) rows.push(...(await benchFixture(base, fixture, runs)))
    const jpeg = rows.filter((r) => r.input === fixtures[0]!.name)
    const wasm = jpeg.find((r) => r.path === 'wasm')?.shapeP50Ms ?? NaN
    const yardstick = jpeg.find((r) => r.path === 'sharp')?.shapeP50Ms ?? NaN
    return { runs, rows, jpegWasmToSharpRatio: Math.round((wasm / yardstick) * 100) / 100 }
  } finally {
    await worker.stop()
    await rm(state, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  const results = await runMediaBench()
  console.table(results.rows)
  console.log(
    `12 MP JPEG -> 768 px, WASM p50 / sharp p50 = ${results.jpegWasmToSharpRatio} (target <= 3)`,
  )
}
