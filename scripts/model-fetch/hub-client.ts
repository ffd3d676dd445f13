/**
 * @module
 * The few Hugging Face hub endpoints a model download needs, over plain `fetch`:
 * - `GET /api/models/{repo}/revision/{revision}` pins a branch or tag to its commit, so every file comes
 *   from one commit even if the branch moves mid-download;
 * - `GET /api/models/{repo}/tree/{commit}?recursive=true` lists files with `size`, the git blob `oid`
 *   and, for LFS files, `lfs.oid` (SHA-256 of the content); pages follow the `Link: <…>; rel="next"`
 *   header (huggingface.js `listFiles`);
 * - `GET /{repo}/resolve/{commit}/{path}` serves small files itself and redirects large ones to a CDN,
 *   which honours `Range`.
 * Redirects are followed by hand so the token (HF_TOKEN) is sent to the hub's own origin only, never to
 * the CDN host (huggingface.js `fileDownloadInfo` takes the same care).
 */
import { FetchError } from './errors.ts'

export interface HubOptions {
  /** `HF_ENDPOINT`, e.g. `https://huggingface.co` (no trailing slash needed). */
  endpoint: string
  /** `owner/name` */
  repo: string
  /** `HF_TOKEN`: sent as `Authorization: Bearer …` to the hub origin. */
  token?: string
}

/** One file of the repo tree. */
export interface TreeFile {
  path: string
  size: number
  /** git blob id (SHA-1 of `blob <size>\0<content>`); for LFS files, the id of the pointer file. */
  oid?: string
  /** SHA-256 of the content, stated by the hub for LFS files. */
  sha256?: string
}

interface ApiTreeEntry {
  type: string
  path: string
  size: number
  oid?: string
  lfs?: { oid: string; size: number }
}

const MAX_REDIRECTS = 5

export class HubClient {
  readonly endpoint: string
  readonly repo: string
  readonly #token: string | undefined
  readonly #origin: string

  constructor(options: HubOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, '')
    this.repo = options.repo
    this.#token = options.token || undefined
    this.#origin = new URL(this.endpoint).origin
  }

  /** The commit a branch, tag or commit id names. */
  async resolveRevision(revision: string): Promise<string> {
    const url = `${this.endpoint}/api/models/${this.repo}/revision/${encodeURIComponent(revision)}`
    const res = await this.#get(url, {}, `revision "${revision}" of ${this.repo}`)
    const body = (await res.json()) as { sha?: unknown }
    if (typeof body.sha !== 'string') {
      throw new FetchError(
        `${url} answered without a commit id; is HF_ENDPOINT a Hugging Face hub?`,
      )
    }
    return body.sha
  }

  /** Every file of the repo at `commit`, all pages. */
  async listTree(commit: string): Promise<TreeFile[]> {
    const files: TreeFile[] = []
    let url: string | null =
      `${this.endpoint}/api/models/${this.repo}/tree/${commit}?recursive=true`
    while (url) {
      const res = await this.#get(url, {}, `the file list of ${this.repo}`)
      const entries = (await res.json()) as ApiTreeEntry[]
      for (const entry of entries) {
        if (entry.type !== 'file') continue
        files.push({
          path: entry.path,
          size: entry.lfs?.size ?? entry.size,
          oid: entry.oid,
          sha256: entry.lfs?.oid,
        })
      }
      url = nextLink(res.headers.get('link'), url)
    }
    return files
  }

  /**
   * Opens a file's content from byte `start`. The answer is 206 when the server honoured the range, 200
   * when it sends the whole file (the caller then starts over).
   */
  async openFile(commit: string, path: string, start: number, signal?: AbortSignal) {
    const encoded = path.split('/').map(encodeURIComponent).join('/')
    const url = `${this.endpoint}/${this.repo}/resolve/${commit}/${encoded}`
    const headers: Record<string, string> = start > 0 ? { range: `bytes=${start}-` } : {}
    return this.#get(url, headers, path, signal)
  }

  async #get(
    url: string,
    headers: Record<string, string>,
    what: string,
    signal?: AbortSignal,
  ): Promise<Response> {
    let current = url
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const sameOrigin = new URL(current).origin === this.#origin
      const auth: Record<string, string> =
        sameOrigin && this.#token ? { authorization: `Bearer ${this.#token}` } : {}
      let res: Response
      try {
        res = await fetch(current, { headers: { ...headers, ...auth }, redirect: 'manual', signal })
      } catch (error) {
        if (signal?.aborted) throw signal.reason ?? error
        const cause =
          (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message
        throw new FetchError(
          `Cannot reach ${new URL(current).origin} (${cause}). Check the network, or set HF_ENDPOINT to a mirror.`,
          { retryable: true, cause: error },
        )
      }
      const location = res.headers.get('location')
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel()
        current = new URL(location, current).toString()
        continue
      }
      if (res.ok) return res
      await res.body?.cancel()
      throw this.#statusError(res, what)
    }
    throw new FetchError(`More than ${MAX_REDIRECTS} redirects while fetching ${what}.`)
  }

  #statusError(res: Response, what: string): FetchError {
    const code = res.headers.get('x-error-code')
    const status = `${res.status}${code ? ` ${code}` : ''}`
    const page = `${this.endpoint}/${this.repo}`
    if (res.status === 401 && !this.#token) {
      return new FetchError(
        `${this.repo} needs a Hugging Face token for ${what} (${status}): it is gated or private. ` +
          `Accept its terms at ${page}, create a read token at https://huggingface.co/settings/tokens ` +
          'and run again with HF_TOKEN set.',
      )
    }
    if (res.status === 401 || res.status === 403) {
      return new FetchError(
        `The hub refused HF_TOKEN for ${what} (${status}). Check that the token is valid and has read ` +
          `access, and that its account accepted the terms at ${page}.`,
      )
    }
    if (res.status === 404) {
      return new FetchError(
        `Not found: ${what} (${status}). Check --repo and --revision` +
          `${this.#token ? '' : '; a private repo also answers 404 without HF_TOKEN'}.`,
      )
    }
    const retryable = res.status === 408 || res.status === 429 || res.status >= 500
    return new FetchError(`The hub answered ${status} for ${what}.`, { retryable })
  }
}

/** The `rel="next"` target of a `Link` header (RFC 8288), resolved against the current page. */
function nextLink(header: string | null, base: string): string | null {
  if (!header) return null
  for (const part of header.split(',')) {
    const match = /<([^>]+)>\s*;.*\brel="?next"?/.exec(part)
    if (match?.[1]) return new URL(match[1], base).toString()
  }
  return null
}
