/**
 * @module
 * The on-disk side of an atomic model download. Files are gathered in `<dir>.partial/` and the folder is
 * renamed to `<dir>` only when every file is verified, so a half-downloaded folder never carries the
 * model's name. `<dir>/.model-fetch.json` records what was fetched (repo, commit, sizes, hashes): a later
 * run hard-links the files that are still current, once their hashes are checked on disk, instead of
 * fetching them, and a folder without it (made by hand or by another tool) is never overwritten.
 */
import { constants } from 'node:fs'
import {
  copyFile,
  link,
  mkdir,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { FetchError } from './errors.ts'
import type { TreeFile } from './hub-client.ts'

export const MANIFEST = '.model-fetch.json'
const LOCK = '.model-fetch.lock'

export interface Manifest {
  repo: string
  revision: string
  commit: string
  files: TreeFile[]
}

/** The manifest of an existing `<dir>`, `null` when there is no `<dir>`. */
export async function readManifest(dir: string, repo: string): Promise<Manifest | null> {
  try {
    await stat(dir)
  } catch {
    return null
  }
  let manifest: Manifest
  try {
    manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as Manifest
  } catch {
    throw new FetchError(
      `${dir} already exists and was not made by model:fetch (no ${MANIFEST}). Choose another --dir, ` +
        'or move that folder away.',
    )
  }
  if (manifest.repo !== repo) {
    throw new FetchError(
      `${dir} holds ${manifest.repo}, not ${repo}. Choose another --dir for a different repo.`,
    )
  }
  return manifest
}

/** Files of the previous download that the hub still has unchanged, by path. */
export function unchangedFiles(previous: Manifest | null, tree: TreeFile[]): Set<string> {
  const current = new Map(tree.map((f) => [f.path, f]))
  const kept = new Set<string>()
  for (const old of previous?.files ?? []) {
    const now = current.get(old.path)
    if (now && now.size === old.size && now.sha256 === old.sha256 && now.oid === old.oid) {
      kept.add(old.path)
    }
  }
  return kept
}

/** Hard-links (or, across file systems, copies) a verified file of `<dir>` into the partial folder. */
export async function linkInto(fromDir: string, toDir: string, path: string): Promise<void> {
  const target = join(toDir, path)
  await mkdir(dirname(target), { recursive: true })
  await rm(target, { force: true })
  try {
    await link(join(fromDir, path), target)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error
    await copyFile(join(fromDir, path), target, constants.COPYFILE_FICLONE)
  }
}

/**
 * Claims the partial folder for this process. A lock left by a process that no longer runs (killed,
 * rebooted) is taken over.
 * @returns a function that removes the lock
 */
export async function lockFolder(partial: string): Promise<() => Promise<void>> {
  const lock = join(partial, LOCK)
  try {
    await writeFile(lock, String(process.pid), { flag: 'wx' })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    const pid = Number(await readFile(lock, 'utf8').catch(() => ''))
    if (pid > 0 && pid !== process.pid && isRunning(pid)) {
      throw new FetchError(
        `Another model:fetch (pid ${pid}) is downloading into ${partial}. Wait for it, or stop it first.`,
      )
    }
    await writeFile(lock, String(process.pid))
  }
  return () => rm(lock, { force: true })
}

/** Deletes everything under `partial` that is not one of `keep` (parts of another variant). */
export async function pruneFolder(partial: string, keep: Set<string>): Promise<void> {
  const entries = await readdir(partial, { recursive: true, withFileTypes: true })
  for (const entry of entries) {
    if (!entry.isFile() && !entry.isSymbolicLink()) continue
    const path = relative(partial, join(entry.parentPath, entry.name))
    if (!keep.has(path) && path !== LOCK) await rm(join(partial, path), { force: true })
  }
}

/** Writes the manifest, then puts the partial folder in place of `<dir>` (two renames). */
export async function publish(partial: string, dir: string, manifest: Manifest): Promise<void> {
  await writeFile(join(partial, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`)
  await rm(join(partial, LOCK), { force: true })
  const old = `${dir}.old-${process.pid}`
  const hadDir = await stat(dir).then(
    () => true,
    () => false,
  )
  if (hadDir) await rename(dir, old)
  await rename(partial, dir)
  if (hadDir) await rm(old, { recursive: true, force: true })
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
