/**
 * @module
 * model:fetch on bad input, against the imitation hub: a gated repo without (and with) a token, a wrong
 * or absent dtype, a repo that is not Gemma 3n, a full disk (Linux `/dev/full`), and the CLI's exit
 * status and output.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { FakeHub } from './fake-hub.ts'
import { REPO, fetchInto, makeRepoFolder, sameBytes } from './helpers.ts'

const CLI = resolve(import.meta.dirname, '../../../scripts/model-fetch/cli.ts')

let root: string
let repoDir: string
let hub: FakeHub | undefined
let count = 0

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'model-fetch-bad-'))
  repoDir = await makeRepoFolder(root)
})
afterAll(() => rm(root, { recursive: true, force: true }))
afterEach(async () => {
  await hub?.close()
  hub = undefined
})

async function startHub(options: { dir?: string; token?: string } = {}): Promise<FakeHub> {
  hub = await FakeHub.start({ repo: REPO, dir: options.dir ?? repoDir, token: options.token })
  return hub
}

function newTarget(): string {
  return join(root, 'models', `m${++count}`)
}

function onnxRequests(h: FakeHub): string[] {
  return h.requests.filter((r) => r.path.includes('/onnx/')).map((r) => r.path)
}

describe('model:fetch bad input', () => {
  it('explains a gated repo without HF_TOKEN, and keeps the token away from the CDN', async () => {
    const h = await startHub({ token: 'hf_test_token' })
    const target = newTarget()
    await expect(fetchInto(h.endpoint, target, { dtype: 'q4' })).rejects.toThrow(
      /needs a Hugging Face token .*\(401 GatedRepo\).*HF_TOKEN/s,
    )
    await expect(fetchInto(h.endpoint, target, { dtype: 'q4', token: 'hf_wrong' })).rejects.toThrow(
      /refused HF_TOKEN/,
    )
    h.requests.length = 0
    await fetchInto(h.endpoint, target, { dtype: 'q4', token: 'hf_test_token' })
    const hubAuth = h.requests.filter((r) => r.server === 'hub').map((r) => r.authorization)
    const cdnAuth = h.requests.filter((r) => r.server === 'cdn').map((r) => r.authorization)
    expect(new Set(hubAuth)).toEqual(new Set(['Bearer hf_test_token']))
    expect(cdnAuth.length).toBeGreaterThan(0)
    expect(new Set(cdnAuth)).toEqual(new Set([null]))
  })

  it('lists the valid dtypes and the variants the repo has for a wrong or absent dtype', async () => {
    const h = await startHub()
    const listing =
      /Valid dtypes: fp32, fp16, q8, .*embed_tokens: fp32, q4; decoder_model_merged: fp32, q4/
    const typo = fetchInto(h.endpoint, newTarget(), { dtype: 'q3' })
    await expect(typo).rejects.toThrow(/Unknown dtype "q3"/)
    await expect(fetchInto(h.endpoint, newTarget(), { dtype: 'q3' })).rejects.toThrow(listing)
    const absent = fetchInto(h.endpoint, newTarget(), { dtype: 'fp16' })
    await expect(absent).rejects.toThrow(
      /has no embed_tokens in fp16, decoder_model_merged in fp16/,
    )
    await expect(fetchInto(h.endpoint, newTarget(), { dtype: 'fp16' })).rejects.toThrow(listing)
    expect(onnxRequests(h)).toEqual([])
  })

  it('stops before any weights when the repo is not a Gemma 3n model', async () => {
    const other = join(root, 'llama-repo')
    await cp(repoDir, other, { recursive: true })
    const config = JSON.parse(await readFile(join(other, 'config.json'), 'utf8'))
    await writeFile(join(other, 'config.json'), JSON.stringify({ ...config, model_type: 'llama' }))
    const h = await startHub({ dir: other })
    const target = newTarget()
    await expect(fetchInto(h.endpoint, target, { dtype: 'q4' })).rejects.toThrow(
      /is not a Gemma 3n model: its config.json has model_type "llama"/,
    )
    expect(onnxRequests(h)).toEqual([])
    expect(existsSync(target)).toBe(false)
  })

  it.skipIf(!existsSync('/dev/full'))(
    'reports a full disk clearly and resumes once there is space',
    async () => {
      const h = await startHub()
      const target = newTarget()
      const file = 'onnx/decoder_model_merged_q4.onnx_data'
      await mkdir(join(`${target}.partial`, 'onnx'), { recursive: true })
      // Every write to /dev/full fails with ENOSPC, as on a full disk.
      await symlink('/dev/full', join(`${target}.partial`, file))
      const run = fetchInto(h.endpoint, target, { dtype: 'q4', textOnly: true })
      await expect(run).rejects.toThrow(/The disk is full: .*ENOSPC.*run the same command again/s)
      expect(existsSync(target)).toBe(false)
      expect(existsSync(join(`${target}.partial`, 'config.json'))).toBe(true)
      await unlink(join(`${target}.partial`, file))
      await fetchInto(h.endpoint, target, { dtype: 'q4', textOnly: true })
      expect(await sameBytes(repoDir, target, file)).toBe(true)
    },
  )

  it('CLI: prints progress lines, the folder check and how to start; exits 1 on a bad dtype', async () => {
    const h = await startHub()
    const target = newTarget()
    const ok = await runCli(['--dtype', 'q4', '--text-only', '--dir', target], h.endpoint)
    expect(ok.code).toBe(0)
    expect(ok.stderr).toMatch(/got onnx\/decoder_model_merged_q4\.onnx_data \(\d/)
    expect(ok.stdout).toMatch(/Folder check passed \(text sessions opened on CPU\)/)
    expect(ok.stdout).toContain(`GEMMA_MODEL_DIR=${target} GEMMA_DTYPE=q4 npm run gpu-node`)
    const bad = await runCli(['--dtype', 'int3', '--dir', newTarget()], h.endpoint)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/model:fetch: Unknown dtype "int3".*Valid dtypes/s)
    const unknown = await runCli(['--dtypes', 'q4'], h.endpoint)
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/Unknown option '--dtypes'.*Usage: npm run model:fetch/s)
  })
})

function runCli(
  args: string[],
  endpoint: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, '--repo', REPO, ...args], {
      env: { ...process.env, HF_ENDPOINT: endpoint, HF_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', fail)
    child.on('close', (code) => done({ code, stdout, stderr }))
  })
}
