/**
 * @module test/model/hf-cache-layout
 * A model folder laid out as a Hugging Face cache snapshot: every file a symlink into a `blobs/` folder
 * under another name. onnxruntime refuses a data file whose real path leaves the folder it was told, so
 * the rewritten decoder graphs (sliced lm_head, fused sampling head) were refused there and the node fell
 * back to the exported graph. It now loads them (external-data-links.ts), and answers as from a plain copy.
 */
import { copyFile, mkdir, readFile, readdir, symlink } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../../gpu-node/config.ts'
import { ensureContractModel } from '../../../gpu-node/contract-model/cache.ts'
import { followDataLinks } from '../../../gpu-node/model/external-data-links.ts'
import { startNode } from '../../../gpu-node/node-server.ts'
import type { RunningNode } from '../../../gpu-node/node-server.ts'
import { tempRoot } from './greedy.ts'

/** Files of `dir`, recursively, relative to it. */
async function filesOf(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)))
}

/** `snapshot/<file>` → `../blobs/blob-N` for every file of `model`, as the hub's cache lays it out. */
async function cacheLayout(model: string, root: string): Promise<string> {
  const snapshot = join(root, 'snapshots', 'main')
  const blobs = join(root, 'blobs')
  await mkdir(blobs, { recursive: true })
  let n = 0
  for (const file of await filesOf(model)) {
    const blob = join(blobs, `blob-${n++}`)
    await copyFile(join(model, file), blob)
    const link = join(snapshot, file)
    await mkdir(dirname(link), { recursive: true })
    await symlink(relative(dirname(link), blob), link)
  }
  return snapshot
}

const SECRET = 'layout-test-secret'
const nodes: RunningNode[] = []
let cleanup: () => Promise<void>
let plain: RunningNode
let linked: RunningNode
let snapshot: string

async function nodeFor(dir: string): Promise<RunningNode> {
  const config = loadConfig({ GPU_NODE_PORT: '0', GPU_NODE_SECRET: SECRET, GEMMA_MODEL_DIR: dir })
  const node = await startNode(config, () => {})
  nodes.push(node)
  return node
}

beforeAll(async () => {
  const model = await ensureContractModel({ vocab: 'small' })
  const temp = await tempRoot('hf-cache')
  cleanup = temp.cleanup
  snapshot = await cacheLayout(model, temp.root)
  plain = await nodeFor(model)
  linked = await nodeFor(snapshot)
})
afterAll(async () => {
  await Promise.all(nodes.map((node) => node.close()))
  await cleanup?.()
})

describe('a model folder of symlinks (Hugging Face cache layout)', () => {
  it('loads the rewritten decoder graphs, as from a plain folder', () => {
    expect(plain.info.promptLogits).toBe('graph_rewritten')
    expect(linked.info.promptLogits).toBe(plain.info.promptLogits)
    expect(linked.info.samplingHead).toBe(plain.info.samplingHead)
  })

  it('generates the same greedy tokens', async () => {
    const ids = [2, 4, 300, 301, 302, 5, 4, 400, 10]
    const run = async (node: RunningNode) => {
      const events = node.engine.generate({
        requestId: 'layout',
        tenant: 't',
        priority: 0,
        promptIds: ids,
        maxTokens: 12,
        sampling: { temperature: 0, topP: 1, topK: 0, presencePenalty: 0, frequencyPenalty: 0 },
        seed: 1,
        stop: [],
      })
      let text = ''
      for await (const event of events) if (event.type === 'text') text += event.text
      return text
    }
    expect(await run(linked)).toBe(await run(plain))
  })

  it('points the graph at the one folder the data really is in, and leaves a plain folder alone', async () => {
    const onnxDir = join(snapshot, 'onnx')
    const graph = new Uint8Array(await readFile(join(onnxDir, 'decoder_model_merged.onnx')))
    const followed = await followDataLinks(graph, onnxDir, ['decoder_model_merged.onnx_data'])
    expect(followed.folder).toBe(join(dirname(dirname(snapshot)), 'blobs'))
    expect(followed.bytes).not.toBe(graph)
    const plainDir = join(await ensureContractModel({ vocab: 'small' }), 'onnx')
    const plainGraph = new Uint8Array(await readFile(join(plainDir, 'decoder_model_merged.onnx')))
    expect(await followDataLinks(plainGraph, plainDir, ['decoder_model_merged.onnx_data'])).toEqual(
      {
        bytes: plainGraph,
        folder: plainDir,
      },
    )
  })
})
