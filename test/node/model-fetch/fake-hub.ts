/**
 * @module
 * An imitation of the Hugging Face hub's file endpoints on 127.0.0.1, serving a local folder as a repo:
 * `/api/models/{repo}/revision/{rev}`, `/api/models/{repo}/tree/{rev}?recursive=true` (paged with a
 * `Link: rel="next"` header), and `/{repo}/resolve/{rev}/{path}`, which serves small files itself and
 * answers 302 to a second server (the "CDN", another port, so another origin) for LFS files, as the real hub does. Both
 * honour `Range: bytes=N-`. Faults on demand: a connection cut mid-file, altered bytes, a gated repo
 * (401 without the token), a server that ignores ranges. Every request is logged for assertions.
 */
import { createHash } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, relative } from 'node:path'

interface RepoFile {
  path: string
  bytes: Buffer
  oid: string
  /** Set for LFS files (everything under onnx/). */
  sha256?: string
}

export interface LoggedRequest {
  server: 'hub' | 'cdn'
  path: string
  range: string | null
  authorization: string | null
}

export interface FakeHubOptions {
  repo: string
  /** Folder served as the repo content. */
  dir: string
  /** Tree entries per page (default 6, so a small repo already spans pages). */
  pageSize?: number
  /** Gated repo: resolve answers 401 unless `Authorization: Bearer <token>`. */
  token?: string
}

export const FAKE_COMMIT = 'c0ffee'.padEnd(40, '0')

export class FakeHub {
  readonly requests: LoggedRequest[] = []
  /** Send whole files with 200 whatever the `Range` header says. */
  ignoreRange = false
  readonly #cuts = new Map<string, number>()
  readonly #corrupt = new Set<string>()
  readonly #files = new Map<string, RepoFile>()
  readonly #options: FakeHubOptions
  readonly #hub: Server
  readonly #cdn: Server

  private constructor(options: FakeHubOptions, files: RepoFile[]) {
    this.#options = options
    for (const file of files) this.#files.set(file.path, file)
    this.#hub = createServer((req, res) => this.#onHub(req, res))
    this.#cdn = createServer((req, res) => this.#onCdn(req, res))
  }

  /** Starts both servers on ephemeral ports of 127.0.0.1. */
  static async start(options: FakeHubOptions): Promise<FakeHub> {
    const hub = new FakeHub(options, await readRepo(options.dir))
    await Promise.all([listen(hub.#hub), listen(hub.#cdn)])
    return hub
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.#hub.address() as AddressInfo).port}`
  }

  /** The next `times` transfers of `path` stop after half of what they would send. */
  cutMidFile(path: string, times: number): void {
    this.#cuts.set(path, times)
  }

  /** Serve `path` with one byte flipped (its checksum no longer matches the tree). */
  corrupt(path: string, on = true): void {
    if (on) this.#corrupt.add(path)
    else this.#corrupt.delete(path)
  }

  /** Requests that fetched file content of `path` (hub or CDN). */
  contentRequests(path: string): LoggedRequest[] {
    const sha = this.#files.get(path)?.sha256
    return this.requests.filter(
      (r) =>
        r.path.endsWith(`/resolve/${FAKE_COMMIT}/${path}`) || (sha && r.path === `/blobs/${sha}`),
    )
  }

  async close(): Promise<void> {
    for (const server of [this.#hub, this.#cdn]) {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }

  #onHub(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.endpoint)
    this.#log('hub', req, url.pathname)
    const repo = this.#options.repo
    const api = `/api/models/${repo}/`
    if (
      url.pathname === `${api}revision/main` ||
      url.pathname === `${api}revision/${FAKE_COMMIT}`
    ) {
      return json(res, { id: repo, sha: FAKE_COMMIT })
    }
    if (
      url.pathname === `${api}tree/${FAKE_COMMIT}` &&
      url.searchParams.get('recursive') === 'true'
    ) {
      return this.#tree(url, res)
    }
    const resolvePrefix = `/${repo}/resolve/${FAKE_COMMIT}/`
    const file = url.pathname.startsWith(resolvePrefix)
      ? this.#files.get(decodeURIComponent(url.pathname.slice(resolvePrefix.length)))
      : undefined
    if (!file) return error(res, 404, 'EntryNotFound')
    if (this.#options.token && req.headers.authorization !== `Bearer ${this.#options.token}`) {
      return error(res, 401, 'GatedRepo')
    }
    if (!file.sha256) return this.#send(req, res, file)
    const port = (this.#cdn.address() as AddressInfo).port
    res.writeHead(302, { location: `http://127.0.0.1:${port}/blobs/${file.sha256}?signature=x` })
    res.end()
  }

  #onCdn(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://cdn').pathname
    this.#log('cdn', req, path)
    const file = [...this.#files.values()].find((f) => path === `/blobs/${f.sha256}`)
    if (!file) return error(res, 404, 'NoSuchKey')
    this.#send(req, res, file)
  }

  #tree(url: URL, res: ServerResponse): void {
    const pageSize = this.#options.pageSize ?? 6
    const entries = [
      { type: 'directory', path: 'onnx', oid: '0'.repeat(40), size: 0 },
      ...[...this.#files.values()].map((f) => ({
        type: 'file',
        path: f.path,
        oid: f.oid,
        size: f.bytes.length,
        ...(f.sha256 ? { lfs: { oid: f.sha256, size: f.bytes.length, pointerSize: 134 } } : {}),
      })),
    ]
    const cursor = Number(url.searchParams.get('cursor') ?? 0)
    const next = cursor + pageSize
    if (next < entries.length) {
      res.setHeader('link', `<${url.pathname}?recursive=true&cursor=${next}>; rel="next"`)
    }
    json(res, entries.slice(cursor, next))
  }

  #send(req: IncomingMessage, res: ServerResponse, file: RepoFile): void {
    let body = file.bytes
    if (this.#corrupt.has(file.path)) {
      body = Buffer.from(body)
      body[body.length >> 1]! ^= 0xff
    }
    const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
    const start = match && !this.ignoreRange ? Number(match[1]) : null
    const headers = { 'accept-ranges': 'bytes', etag: `"${file.sha256 ?? file.oid}"` }
    if (start !== null) {
      res.writeHead(206, {
        ...headers,
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
        'content-length': body.length - start,
      })
      body = body.subarray(start)
    } else {
      res.writeHead(200, { ...headers, 'content-length': body.length })
    }
    const cuts = this.#cuts.get(file.path) ?? 0
    if (cuts > 0) {
      this.#cuts.set(file.path, cuts - 1)
      res.write(body.subarray(0, body.length >> 1), () => res.destroy())
      return
    }
    res.end(body)
  }

  #log(server: 'hub' | 'cdn', req: IncomingMessage, path: string): void {
    this.requests.push({
      server,
      path,
      range: req.headers.range ?? null,
      authorization: req.headers.authorization ?? null,
    })
  }
}

async function readRepo(dir: string): Promise<RepoFile[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  const files: RepoFile[] = []
  for (const entry of entries.filter((e) => e.isFile())) {
    const full = join(entry.parentPath, entry.name)
    const bytes = await readFile(full)
    const path = relative(dir, full)
    const lfs = path.startsWith('onnx/')
    const blob = lfs ? Buffer.from(`version https://git-lfs.github.com/spec/v1\n${path}\n`) : bytes
    files.push({
      path,
      bytes,
      oid: createHash('sha1').update(`blob ${blob.length}\0`).update(blob).digest('hex'),
      ...(lfs ? { sha256: createHash('sha256').update(bytes).digest('hex') } : {}),
    })
  }
  return files.sort((a, b) => a.path.localeCompare(b.path))
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
}

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

function error(res: ServerResponse, status: number, code: string): void {
  res.writeHead(status, { 'x-error-code': code, 'content-type': 'application/json' })
  res.end(JSON.stringify({ error: code }))
}
