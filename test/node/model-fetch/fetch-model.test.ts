/**
 * @module
 * model:fetch against the imitation hub: only the chosen variant's files, the CDN redirect, atomic
 * publication, resume after a cut (same run and next run), stale and corrupt files, a server that
 * ignores ranges, reuse of an existing folder for a second variant or the same one, and repair of a
 * folder whose files were damaged since.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { MANIFEST } from '../../../scripts/model-fetch/folder-state.ts'
import { checkModelFolder } from '../../../scripts/model-fetch/folder-check.ts'
import { FAKE_COMMIT, FakeHub } from './fake-hub.ts'
import { REPO, fetchInto, listFiles, makeRepoFolder, sameBytes } from './helpers.ts'

const META = [
  'chat_template.jinja',
  'config.json',
  'generation_config.json',
  'preprocessor_config.json',
  'processor_config.json',
  'special_tokens_map.json',
  'tokenizer.json',
  'tokenizer_config.json',
]
const DECODER_DATA = 'onnx/decoder_model_merged_q4.onnx_data'

let root: string
let repoDir: string
let hub: FakeHub
let target: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'model-fetch-test-'))
  repoDir = await makeRepoFolder(root)
})
afterAll(() => rm(root, { recursive: true, force: true }))

beforeEach(async (context) => {
  hub = await FakeHub.start({ repo: REPO, dir: repoDir })
  target = join(root, 'models', context.task.id)
  await mkdir(join(root, 'models'), { recursive: true })
})
afterEach(() => hub.close())

describe('model:fetch', () => {
  it('downloads only the chosen variant, through the CDN redirect, and publishes it atomically', async () => {
    const result = await fetchInto(hub.endpoint, target, { dtype: 'q4' })
    const q4 = ['audio_encoder', 'decoder_model_merged', 'embed_tokens', 'vision_encoder'].flatMap(
      (s) => [`onnx/${s}_q4.onnx`, `onnx/${s}_q4.onnx_data`],
    )
    expect(await listFiles(target)).toEqual([MANIFEST, ...META, ...q4].sort())
    for (const path of [...META, ...q4]) expect(await sameBytes(repoDir, target, path)).toBe(true)
    expect(existsSync(`${target}.partial`)).toBe(false)
    expect(result).toMatchObject({ commit: FAKE_COMMIT, dtype: 'q4', files: META.length + 8 })
    // LFS content came from the CDN after a 302; small files from the hub itself.
    expect(hub.contentRequests(DECODER_DATA).map((r) => r.server)).toEqual(['hub', 'cdn'])
    expect(hub.contentRequests('config.json').map((r) => r.server)).toEqual(['hub'])
    // The tree spans several pages (6 entries each): every page was read.
    expect(hub.requests.filter((r) => r.path.includes('/tree/')).length).toBeGreaterThan(3)
    const manifest = JSON.parse(await readFile(join(target, MANIFEST), 'utf8'))
    expect(manifest).toMatchObject({ repo: REPO, revision: 'main', commit: FAKE_COMMIT })
    const check = await checkModelFolder(target, result.dtype, true)
    expect(check).toEqual({
      loaded: true,
      dtypes: {
        embed_tokens: 'q4',
        decoder_model_merged: 'q4',
        vision_encoder: 'q4',
        audio_encoder: 'q4',
      },
    })
  })

  it('follows the repo config dtype by default and takes a per-session setting', async () => {
    const byConfig = await fetchInto(hub.endpoint, target, { textOnly: true })
    expect(byConfig.dtype).toBe('fp32')
    const mixed = join(root, 'models', 'mixed')
    const result = await fetchInto(hub.endpoint, mixed, {
      textOnly: true,
      dtype: 'decoder_model_merged=q4,embed_tokens=fp32',
    })
    expect(result.dtype).toBe('embed_tokens=fp32,decoder_model_merged=q4')
    expect((await listFiles(mixed)).filter((f) => f.startsWith('onnx/'))).toEqual([
      'onnx/decoder_model_merged_q4.onnx',
      'onnx/decoder_model_merged_q4.onnx_data',
      'onnx/embed_tokens.onnx',
      'onnx/embed_tokens.onnx_data',
    ])
    expect((await checkModelFolder(mixed, result.dtype, true)).dtypes).toEqual({
      embed_tokens: 'fp32',
      decoder_model_merged: 'q4',
    })
  })

  it('resumes with a Range request when the connection drops mid-file', async () => {
    hub.cutMidFile(DECODER_DATA, 1)
    const lines: string[] = []
    await fetchInto(hub.endpoint, target, { dtype: 'q4', textOnly: true }, lines)
    const cdn = hub.contentRequests(DECODER_DATA).filter((r) => r.server === 'cdn')
    const size = (await stat(join(repoDir, DECODER_DATA))).size
    // The second request starts where the bytes that arrived end (what was in flight is lost).
    expect(cdn.map((r) => r.range)).toEqual([null, expect.stringMatching(/^bytes=\d+-$/)])
    const resumedAt = Number(/\d+/.exec(cdn[1]!.range!)![0])
    expect(resumedAt).toBeGreaterThan(0)
    expect(resumedAt).toBeLessThanOrEqual(size >> 1)
    expect(await sameBytes(repoDir, target, DECODER_DATA)).toBe(true)
    expect(lines.join('')).toMatch(/decoder_model_merged_q4\.onnx_data: .*resuming in/)
  })

  it('keeps the partial download when every retry fails, and the next run resumes it', async () => {
    hub.cutMidFile(DECODER_DATA, 100)
    const run = fetchInto(hub.endpoint, target, { dtype: 'q4', textOnly: true })
    await expect(run).rejects.toThrow(/failed 5 times.*run the same command again to resume/s)
    expect(existsSync(target)).toBe(false)
    const kept = (await stat(join(`${target}.partial`, DECODER_DATA))).size
    expect(kept).toBeGreaterThan(0)

    hub.cutMidFile(DECODER_DATA, 0)
    hub.requests.length = 0
    await fetchInto(hub.endpoint, target, { dtype: 'q4', textOnly: true })
    expect(hub.contentRequests(DECODER_DATA).at(-1)?.range).toBe(`bytes=${kept}-`)
    // Files finished in the first run are verified from disk, not fetched again.
    expect(hub.contentRequests('tokenizer.json')).toEqual([])
    expect(await sameBytes(repoDir, target, DECODER_DATA)).toBe(true)
  })

  it('refuses a file whose checksum is wrong and leaves no model folder', async () => {
    hub.corrupt('onnx/embed_tokens_q4.onnx_data')
    const run = fetchInto(hub.endpoint, target, { dtype: 'q4', textOnly: true })
    await expect(run).rejects.toThrow(
      /onnx\/embed_tokens_q4\.onnx_data: checksum mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\)/,
    )
    expect(existsSync(target)).toBe(false)
    expect(existsSync(join(`${target}.partial`, 'onnx/embed_tokens_q4.onnx_data'))).toBe(false)
  })

  it('replaces stale partial files: a wrong prefix and a file longer than the original', async () => {
    const partial = `${target}.partial`
    await mkdir(join(partial, 'onnx'), { recursive: true })
    const size = (await stat(join(repoDir, DECODER_DATA))).size
    await writeFile(join(partial, DECODER_DATA), Buffer.alloc(size >> 2, 7))
    await writeFile(
      join(partial, 'config.json'),
      '{"model_type":"gemma3n","stale":true,"pad":"    "}',
    )
    await writeFile(join(partial, 'tokenizer.json'), Buffer.alloc(1_000_000, 1))
    const lines: string[] = []
    await fetchInto(hub.endpoint, target, { dtype: 'q4', textOnly: true }, lines)
    for (const path of [DECODER_DATA, 'config.json', 'tokenizer.json']) {
      expect(await sameBytes(repoDir, target, path)).toBe(true)
    }
    // The short stale part was resumed first, then fetched whole after its checksum failed.
    const ranges = hub.contentRequests(DECODER_DATA).filter((r) => r.server === 'cdn')
    expect(ranges.map((r) => r.range)).toEqual([`bytes=${size >> 2}-`, null])
    expect(lines.join('')).toMatch(
      /decoder_model_merged_q4\.onnx_data: the partial file on disk was stale/,
    )
  })

  it('starts over when the server ignores the Range header', async () => {
    const partial = `${target}.partial`
    await mkdir(join(partial, 'onnx'), { recursive: true })
    const original = await readFile(join(repoDir, DECODER_DATA))
    await writeFile(join(partial, DECODER_DATA), original.subarray(0, 1000))
    hub.ignoreRange = true
    await fetchInto(hub.endpoint, target, { dtype: 'q4', textOnly: true })
    expect(await sameBytes(repoDir, target, DECODER_DATA)).toBe(true)
  })

  it('adds a second variant to a folder it made, fetching only the new files', async () => {
    await fetchInto(hub.endpoint, target, { dtype: 'q4', textOnly: true })
    hub.requests.length = 0
    await fetchInto(hub.endpoint, target, { dtype: 'fp32', textOnly: true })
    const fetched = hub.requests.filter((r) => r.path.includes('/resolve/')).map((r) => r.path)
    expect(fetched.map((p) => p.split(`${FAKE_COMMIT}/`)[1]).sort()).toEqual([
      'onnx/decoder_model_merged.onnx',
      'onnx/decoder_model_merged.onnx_data',
      'onnx/embed_tokens.onnx',
      'onnx/embed_tokens.onnx_data',
    ])
    const files = await listFiles(target)
    expect(files).toContain(DECODER_DATA)
    expect(files).toContain('onnx/decoder_model_merged.onnx_data')
    expect((await checkModelFolder(target, 'q4', false)).dtypes.decoder_model_merged).toBe('q4')
  })

  it('runs again on a folder it made: reuses every file, downloading nothing', async () => {
    await fetchInto(hub.endpoint, target, { dtype: 'q4', textOnly: true })
    hub.requests.length = 0
    const again = await fetchInto(hub.endpoint, target, { dtype: 'q4', textOnly: true })
    expect(again.downloadedBytes).toBe(0)
    expect(hub.requests.filter((r) => r.path.includes('/resolve/'))).toEqual([])
    expect(existsSync(`${target}.partial`)).toBe(false)
    expect(await sameBytes(repoDir, target, DECODER_DATA)).toBe(true)
  })

  it('fetches again a file of the folder that was damaged since (cut short, or altered)', async () => {
    await fetchInto(hub.endpoint, target, { dtype: 'q4', textOnly: true })
    const original = await readFile(join(repoDir, DECODER_DATA))
    await writeFile(join(target, DECODER_DATA), original.subarray(0, 1000))
    const altered = Buffer.from(await readFile(join(repoDir, 'onnx/embed_tokens_q4.onnx_data')))
    altered[10] = altered[10]! ^ 0xff
    await writeFile(join(target, 'onnx/embed_tokens_q4.onnx_data'), altered)
    hub.requests.length = 0
    await fetchInto(hub.endpoint, target, { dtype: 'q4', textOnly: true })
    const fetched = hub.requests.filter((r) => r.path.includes('/resolve/')).map((r) => r.path)
    expect(fetched.map((p) => p.split(`${FAKE_COMMIT}/`)[1])).toEqual(
      expect.arrayContaining([DECODER_DATA, 'onnx/embed_tokens_q4.onnx_data']),
    )
    expect(await sameBytes(repoDir, target, DECODER_DATA)).toBe(true)
    expect(await sameBytes(repoDir, target, 'onnx/embed_tokens_q4.onnx_data')).toBe(true)
  })

  it('never overwrites a folder that model:fetch did not make', async () => {
    await mkdir(target, { recursive: true })
    await writeFile(join(target, 'config.json'), '{}')
    await expect(fetchInto(hub.endpoint, target, { dtype: 'q4' })).rejects.toThrow(
      /already exists and was not made by model:fetch/,
    )
    expect(await readFile(join(target, 'config.json'), 'utf8')).toBe('{}')
  })
})
