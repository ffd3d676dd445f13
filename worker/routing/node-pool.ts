/**
 * @module
 * The GPU nodes the edge may send work to, from `GPU_NODES` (comma-separated base URLs). For now the pick is
 * the first node; the fleet issue grows this module (health, load, retry on another node before the first
 * byte) without changing its callers.
 */

/** One GPU node. `index` identifies it in logs without printing its URL. */
export interface GpuNode {
  index: number
  baseUrl: string
}

/** The configured nodes, in `GPU_NODES` order. */
export class NodePool {
  readonly nodes: readonly GpuNode[]

  constructor(baseUrls: readonly string[]) {
    this.nodes = baseUrls.map((baseUrl, index) => ({ index, baseUrl: baseUrl.replace(/\/+$/, '') }))
  }

  /** Parses `GPU_NODES`; blanks between commas are ignored. */
  static fromEnv(gpuNodes: string | undefined): NodePool {
    const urls = (gpuNodes ?? '')
      .split(',')
      .map((url) => url.trim())
      .filter((url) => url !== '')
    return new NodePool(urls)
  }

  /** The node for the next request, or `null` when none is configured. */
  pickNode(): GpuNode | null {
    return this.nodes[0] ?? null
  }
}
