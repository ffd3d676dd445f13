/**
 * @module
 * Shared by the model:fetch tests: a small generated contract model (fp32 + q4 variants) served by the
 * imitation hub, and a fetch call with quiet progress and short retry pauses.
 */
import { readFile, readdir } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { generateContractModel } from '../../../gpu-node/contract-model/generate.ts'
import { resolveOptions } from '../../../gpu-node/contract-model/options.ts'
import { fetchModel } from '../../../scripts/model-fetch/fetch-model.ts'
import type { FetchOptions, FetchResult } from '../../../scripts/model-fetch/fetch-model.ts'
import { Progress } from '../../../scripts/model-fetch/progress.ts'

export const REPO = 'test-org/gemma-3n-tiny-ONNX'

/** Writes the repo content under `root/repo`. */
export async function makeRepoFolder(root: string): Promise<string> {
  const dir = join(root, 'repo')
  await generateContractModel(dir, resolveOptions({ vocab: 'small', dtypes: ['fp32', 'q4'] }))
  return dir
}

/** Runs fetchModel against `endpoint`; `lines` collects what the progress printed. */
export async function fetchInto(
  endpoint: string,
  dir: string,
  extra: Partial<FetchOptions> = {},
  lines: string[] = [],
): Promise<FetchResult> {
  const progress = new Progress({ isTTY: false, write: (text: string) => lines.push(text) })
  return fetchModel({
    endpoint,
    repo: REPO,
    revision: 'main',
    dir,
    textOnly: false,
    progress,
    retryDelayMs: 1,
    ...extra,
  })
}

/** Relative paths of every file under `dir`, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort()
}

/** Whether `path` has the same bytes in both folders. */
export async function sameBytes(a: string, b: string, path: string): Promise<boolean> {
  const [x, y] = await Promise.all([readFile(join(a, path)), readFile(join(b, path))])
  return x.equals(y)
}
