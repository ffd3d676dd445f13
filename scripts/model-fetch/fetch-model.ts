/**
 * @module
 * `model:fetch` end to end: pin the revision to a commit, list the repo, fetch the config and check that
 * it is a Gemma 3n model before any weights, choose the variant, check free space, download each file
 * into `<dir>.partial/` (resuming and verifying), then publish the folder under `<dir>` in one rename.
 */
import { mkdir, readFile, stat, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import type { JsonObject } from '../../gpu-node/model/model-folder.ts'
import { SESSION_NAMES } from '../../gpu-node/model/model-folder.ts'
import { downloadFile, isIntact } from './download-file.ts'
import { FetchError } from './errors.ts'
import {
  linkInto,
  lockFolder,
  publish,
  pruneFolder,
  readManifest,
  unchangedFiles,
} from './folder-state.ts'
import { HubClient } from './hub-client.ts'
import type { TreeFile } from './hub-client.ts'
import { TEXT_SESSIONS, dtypeSetting, metadataFiles, planWeights } from './plan.ts'
import type { Progress } from './progress.ts'
import { formatBytes } from './progress.ts'

export interface FetchOptions {
  endpoint: string
  repo: string
  revision: string
  /** Absolute target folder. */
  dir: string
  /** `--dtype`; `undefined`: config.json's `transformers.js_config.dtype`, else the defaults. */
  dtype?: string
  /** Only embed_tokens and decoder_model_merged. */
  textOnly: boolean
  token?: string
  progress: Progress
  /** First retry pause (tests shorten it). */
  retryDelayMs?: number
}

export interface FetchResult {
  dir: string
  commit: string
  /** `GEMMA_DTYPE` for the fetched variant. */
  dtype: string
  /** Files of this variant, and bytes actually transferred in this run. */
  files: number
  downloadedBytes: number
}

/**
 * Downloads (or completes, or reuses) the model folder.
 * @throws FetchError with a message for the operator
 * @example await fetchModel({ endpoint: 'https://huggingface.co', repo, revision: 'main', dir, textOnly: false, progress })
 */
export async function fetchModel(options: FetchOptions): Promise<FetchResult> {
  const { dir, repo, progress } = options
  const client = new HubClient(options)
  const commit = await client.resolveRevision(options.revision)
  const tree = await client.listTree(commit)
  const metadata = metadataFiles(tree)
  if (!metadata.some((f) => f.path === 'config.json')) {
    throw new FetchError(
      `${repo} has no config.json at ${options.revision}: it is not a transformers-style model repo.`,
    )
  }
  const previous = await readManifest(dir, repo)
  const unchanged = unchangedFiles(previous, tree)
  const partial = `${dir}.partial`
  await mkdir(partial, { recursive: true })
  const unlock = await lockFolder(partial)
  // A file of <dir> the hub still has is reused once it proves intact on disk; a damaged one (cut short,
  // altered) is fetched again, so running the same command again always repairs a folder.
  const checked = new Set<string>()
  const reusable = async (file: TreeFile, damaged: string): Promise<boolean> => {
    if (!unchanged.has(file.path)) return false
    if (checked.has(file.path)) return true
    if (await isIntact(join(dir, file.path), file)) {
      checked.add(file.path)
      return true
    }
    progress.note(`${file.path} in ${dir} is damaged (size or hash): ${damaged}`)
    unchanged.delete(file.path)
    return false
  }
  const FETCH_AGAIN = 'fetching it again'
  const get = async (files: TreeFile[]): Promise<void> => {
    for (const file of files) {
      if (await reusable(file, FETCH_AGAIN)) {
        await linkInto(dir, partial, file.path)
        progress.startFile(file.path, file.size)
      } else await fetchFile(client, commit, partial, file, options)
    }
  }
  try {
    progress.setTotal(sum(metadata))
    await get(metadata)
    const config = await readConfig(partial, repo)
    const sessions = options.textOnly ? TEXT_SESSIONS : SESSION_NAMES
    const plan = planWeights(tree, options.dtype ?? configDtype(config), sessions)
    const wanted = [...metadata, ...plan.files]
    progress.setTotal(sum(wanted))
    for (const file of plan.files) await reusable(file, FETCH_AGAIN) // before the space check, which counts them
    await ensureSpace(partial, plan.files, unchanged)
    await get(plan.files)
    // Earlier variants in <dir> stay, as long as the hub has not changed any of their files.
    const extras = (previous?.files ?? []).filter((f) => !wanted.some((w) => w.path === f.path))
    let kept = extras
    const dropped = 'the earlier variant it belongs to is left out; fetch it again with its --dtype'
    for (const file of extras) {
      if (await reusable(file, dropped)) continue
      kept = []
      break
    }
    for (const file of kept) await linkInto(dir, partial, file.path)
    const files = [...wanted, ...kept]
    await pruneFolder(partial, new Set(files.map((f) => f.path)))
    progress.finish()
    await publish(partial, dir, { repo, revision: options.revision, commit, files })
    const downloadedBytes = sum(plan.files.filter((f) => !unchanged.has(f.path)))
    return { dir, commit, dtype: dtypeSetting(plan.dtypes), files: wanted.length, downloadedBytes }
  } finally {
    progress.finish()
    await unlock()
  }
}

async function fetchFile(
  client: HubClient,
  commit: string,
  partial: string,
  file: TreeFile,
  options: FetchOptions,
): Promise<void> {
  const target = join(partial, file.path)
  const outcome = await downloadFile({
    client,
    commit,
    file,
    target,
    progress: options.progress,
    retryDelayMs: options.retryDelayMs,
  })
  options.progress.note(
    `${outcome === 'present' ? 'had' : 'got'} ${file.path} (${formatBytes(file.size)})`,
  )
}

async function readConfig(partial: string, repo: string): Promise<JsonObject> {
  const config = JSON.parse(await readFile(join(partial, 'config.json'), 'utf8')) as JsonObject
  if (config.model_type !== 'gemma3n') {
    throw new FetchError(
      `${repo} is not a Gemma 3n model: its config.json has model_type ${JSON.stringify(config.model_type)}, ` +
        'gemma-edge serves "gemma3n" (e.g. onnx-community/gemma-3n-E2B-it-ONNX). Nothing large was downloaded.',
    )
  }
  return config
}

function configDtype(config: JsonObject): string | JsonObject | undefined {
  const tjs = config['transformers.js_config'] as JsonObject | undefined
  return tjs?.dtype as string | JsonObject | undefined
}

/** Refuses to start when the disk cannot hold what is left to download. */
async function ensureSpace(partial: string, files: TreeFile[], reused: Set<string>): Promise<void> {
  let needed = 0
  for (const file of files) {
    if (reused.has(file.path)) continue
    const have = await stat(join(partial, file.path)).then(
      (s) => (s.isFile() ? Math.min(s.size, file.size) : 0),
      () => 0,
    )
    needed += file.size - have
  }
  const fs = await statfs(partial)
  const free = fs.bavail * fs.bsize
  if (needed > free) {
    throw new FetchError(
      `Not enough disk space in ${partial}: ${formatBytes(needed)} still to download, ` +
        `${formatBytes(free)} free. Free some space or pick a --dir on a larger disk; what is already ` +
        'downloaded is kept for the next run.',
    )
  }
}

function sum(files: TreeFile[]): number {
  return files.reduce((total, f) => total + f.size, 0)
}
