/**
 * @module
 * Downloads one file of the repo into the `.partial` folder with resume and verification:
 * - a part already on disk is hashed first, then only the rest is requested (`Range: bytes=N-`); a
 *   server that answers 200 instead of 206 gets the file written from the start;
 * - the hash is computed while the bytes stream in: SHA-256 where the hub states it (LFS files), else
 *   the git blob id (SHA-1 of `blob <size>\0<content>`) of small files; the size is always checked;
 * - a part that is longer than the file, or whose finished hash is wrong, is stale (another revision, a
 *   damaged disk): it is deleted and fetched again from byte 0;
 * - network failures and stalls are retried a few times, resuming each time; a full disk stops at once,
 *   keeping the part for the next run.
 */
import { createHash } from 'node:crypto'
import type { Hash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, rm, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as NodeReadableStream } from 'node:stream/web'
import { setTimeout as sleep } from 'node:timers/promises'
import { FetchError, isDiskFull } from './errors.ts'
import type { HubClient, TreeFile } from './hub-client.ts'
import type { Progress } from './progress.ts'
import { formatBytes } from './progress.ts'

export interface DownloadTask {
  client: HubClient
  commit: string
  file: TreeFile
  /** Absolute path inside the `.partial` folder. */
  target: string
  progress: Progress
  /** Further attempts after a network failure (default 4). */
  retries?: number
  /** First pause before a retry, doubled each time (default 1000 ms). */
  retryDelayMs?: number
  /** Abort an attempt that received nothing for this long (default 60 s). */
  idleTimeoutMs?: number
}

/** Where an attempt stands: bytes on disk and the hash over them. */
interface Part {
  offset: number
  hash: Hash | null
}

/**
 * Makes `task.target` a verified copy of the remote file.
 * @returns `present` when the file was already complete on disk, else `downloaded`
 * @throws FetchError when the disk is full, access is refused, the checksum is wrong after a fresh
 *   download, or every retry failed
 */
export async function downloadFile(task: DownloadTask): Promise<'present' | 'downloaded'> {
  const { file, target, progress } = task
  const retries = task.retries ?? 4
  await mkdir(dirname(target), { recursive: true })
  for (let attempt = 0; ; attempt++) {
    const part = await existingPart(target, file)
    const resumedFrom = part.offset
    progress.startFile(file.path, part.offset)
    const tally = { bytes: part.offset }
    try {
      if (part.offset < file.size) await receive(task, part, tally)
      const problem = await verify(target, file, part.hash)
      if (!problem) return resumedFrom === file.size ? 'present' : 'downloaded'
      await rm(target, { force: true })
      progress.discard(tally.bytes)
      if (resumedFrom === 0) {
        throw new FetchError(
          `${file.path}: ${problem} after a complete download. The file was deleted. Run again; if it ` +
            'repeats, the hub or a proxy on the way serves altered content.',
        )
      }
      progress.note(
        `${file.path}: the partial file on disk was stale (${problem}); fetching it again`,
      )
    } catch (error) {
      if (error instanceof FetchError && !error.retryable) throw error
      if (isDiskFull(error)) throw diskFull(target, file, error)
      const reason = describe(error)
      if (attempt >= retries) {
        throw new FetchError(
          `Downloading ${file.path} failed ${attempt + 1} times (last: ${reason}). What arrived is kept ` +
            `in ${target}; run the same command again to resume.`,
          { cause: error },
        )
      }
      progress.discard(tally.bytes)
      const pause = (task.retryDelayMs ?? 1000) * 2 ** attempt
      progress.note(`${file.path}: ${reason}; resuming in ${Math.round(pause / 100) / 10} s`)
      await sleep(pause)
    }
  }
}

/**
 * Receives the rest of the file into `target`. `tally.bytes` follows what the progress counts for this
 * file, so a failed attempt can take exactly that back.
 */
async function receive(task: DownloadTask, part: Part, tally: { bytes: number }): Promise<void> {
  const { client, commit, file, target, progress } = task
  const idleMs = task.idleTimeoutMs ?? 60_000
  const controller = new AbortController()
  const timer = setTimeout(
    () => controller.abort(new FetchError(`no data for ${idleMs / 1000} s`, { retryable: true })),
    idleMs,
  )
  try {
    let res = await client.openFile(commit, file.path, part.offset, controller.signal)
    if (part.offset > 0 && !rangeHonoured(res, part.offset)) {
      // The whole file is coming (or a range we did not ask for): drop the part and start over.
      await res.body?.cancel()
      progress.discard(part.offset)
      tally.bytes -= part.offset
      part.offset = 0
      part.hash = newHash(file)
      res = await client.openFile(commit, file.path, 0, controller.signal)
    }
    if (!res.body) throw new FetchError(`empty answer for ${file.path}`, { retryable: true })
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        timer.refresh()
        part.hash?.update(chunk)
        tally.bytes += chunk.length
        progress.add(chunk.length)
        done(null, chunk)
      },
    })
    const sink = createWriteStream(target, { flags: part.offset > 0 ? 'a' : 'w' })
    await pipeline(Readable.fromWeb(res.body as NodeReadableStream), tap, sink)
  } catch (error) {
    if (controller.signal.aborted && !isDiskFull(error)) throw controller.signal.reason
    throw error
  } finally {
    clearTimeout(timer)
  }
}

/** Size and hash of what is on disk against what the hub states; `null` when they match. */
async function verify(target: string, file: TreeFile, hash: Hash | null): Promise<string | null> {
  const size = (await stat(target)).size
  if (size !== file.size) {
    if (size < file.size) {
      throw new FetchError(`the connection closed at ${size} of ${file.size} bytes`, {
        retryable: true,
      })
    }
    return `size ${size} instead of ${file.size}`
  }
  return checksumProblem(file, hash)
}

/** The hash over a whole file against what the hub states; `null` when they match or none is stated. */
function checksumProblem(file: TreeFile, hash: Hash | null): string | null {
  const expected = file.sha256 ?? gitOid(file)
  if (!hash || !expected) return null
  const actual = hash.copy().digest('hex')
  return actual === expected ? null : `checksum mismatch (expected ${expected}, got ${actual})`
}

/**
 * Whether `path` is a complete copy of `file`: its size, and its hash where the hub states one (a file kept
 * from an earlier run is checked so before it is reused: disks and hands damage files).
 */
export async function isIntact(path: string, file: TreeFile): Promise<boolean> {
  const size = await stat(path).then(
    (found) => found.size,
    () => -1,
  )
  if (size !== file.size) return false
  return checksumProblem(file, await hashOnDisk(path, file, size)) === null
}

async function existingPart(target: string, file: TreeFile): Promise<Part> {
  let size = 0
  try {
    size = (await stat(target)).size
  } catch {
    return { offset: 0, hash: newHash(file) }
  }
  if (size > file.size) {
    await rm(target, { force: true })
    return { offset: 0, hash: newHash(file) }
  }
  return { offset: size, hash: await hashOnDisk(target, file, size) }
}

/** The file's hash (`newHash`) fed the first `size` bytes of `path`; `null` when none is kept. */
async function hashOnDisk(path: string, file: TreeFile, size: number): Promise<Hash | null> {
  const hash = newHash(file)
  if (hash && size > 0) {
    for await (const chunk of createReadStream(path, { start: 0, end: size - 1 })) {
      hash.update(chunk as Buffer)
    }
  }
  return hash
}

/** SHA-256 for LFS files; the git blob hash for small files with a git oid; else size only. */
function newHash(file: TreeFile): Hash | null {
  if (file.sha256) return createHash('sha256')
  if (!gitOid(file)) return null
  return createHash('sha1').update(`blob ${file.size}\0`)
}

function gitOid(file: TreeFile): string | undefined {
  return file.oid && /^[0-9a-f]{40}$/.test(file.oid) && !file.sha256 ? file.oid : undefined
}

/** A 206 whose `Content-Range` starts where the part ends. */
function rangeHonoured(res: Response, offset: number): boolean {
  if (res.status !== 206) return false
  const match = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')
  return match !== null && Number(match[1]) === offset
}

function diskFull(target: string, file: TreeFile, error: unknown): FetchError {
  return new FetchError(
    `The disk is full: writing ${target} (${formatBytes(file.size)}) failed with ` +
      `${(error as NodeJS.ErrnoException).code}. What was downloaded so far is kept: free some space ` +
      '(or pick a --dir on a larger disk and move the .partial folder there) and run the same command ' +
      'again to resume.',
    { cause: error },
  )
}

function describe(error: unknown): string {
  const err = error as Error & { cause?: Error }
  if (err.cause?.message && err.message === 'terminated')
    return `connection lost (${err.cause.message})`
  return err.message || String(error)
}
