/**
 * @module
 * Where a rewritten graph (decoder-graphs.ts), loaded from bytes, finds its weights. onnxruntime reads them
 * from a folder it is told, and refuses a data file whose real path lies outside that folder. A Hugging
 * Face cache snapshot (`huggingface-cli download` without `--local-dir`) is made of symlinks into a
 * `blobs/` folder under hashed names, so there every rewritten graph was refused and the node fell back to
 * the exported one, with logits for every prompt position and the slow sampler. This points the graph at
 * the data files' real paths instead: the folder they share, and each `location` by its real name there.
 */
import { realpath } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import onnxProto from 'onnx-proto'

const { onnx } = onnxProto
type Graph = onnxProto.onnx.IGraphProto
type Tensor = onnxProto.onnx.ITensorProto

/** Every tensor of `graph` and its subgraphs (If/Loop bodies) that keeps its data in a file. */
function externalTensors(graph: Graph, found: Tensor[] = []): Tensor[] {
  for (const tensor of graph.initializer ?? []) {
    if (tensor.externalData?.some((entry) => entry.key === 'location')) found.push(tensor)
  }
  for (const node of graph.node ?? []) {
    for (const attribute of node.attribute ?? []) {
      if (attribute.g) externalTensors(attribute.g, found)
      for (const sub of attribute.graphs ?? []) externalTensors(sub, found)
    }
  }
  return found
}

/** Whether the path of `name` in `dir` leads elsewhere (a symlink, or inside a linked folder). */
async function linked(dir: string, name: string): Promise<boolean> {
  const path = join(dir, name)
  return (await realpath(path).catch(() => path)) !== path
}

/**
 * The graph and the folder to load it with. Unchanged (the folder of the `.onnx` file) unless its data
 * files (`dataFiles`, the folder's `<session>.onnx_data*`) are symlinks: the graph is decoded only then.
 * Throws when their real files are not in one folder, which onnxruntime cannot load.
 * @example
 * const { bytes, folder } = await followDataLinks(rewritten, dirname(file.path), file.externalData)
 */
export async function followDataLinks(
  graph: Uint8Array,
  onnxDir: string,
  dataFiles: string[],
): Promise<{ bytes: Uint8Array; folder: string }> {
  const links = await Promise.all(dataFiles.map((name) => linked(onnxDir, name)))
  if (!links.includes(true)) return { bytes: graph, folder: onnxDir }
  const model = onnx.ModelProto.decode(graph)
  const tensors = model.graph ? externalTensors(model.graph) : []
  const locations = new Set(
    tensors.flatMap((t) =>
      t.externalData!.filter((e) => e.key === 'location').map((e) => e.value!),
    ),
  )
  const real = new Map<string, string>()
  for (const location of locations) real.set(location, await realpath(join(onnxDir, location)))
  const folders = new Set([...real.values()].map((path) => dirname(path)))
  if (folders.size !== 1) {
    throw new Error(
      `The weight files of ${onnxDir} are symlinks into ${folders.size} different folders; onnxruntime ` +
        'needs them in one folder. Copy the model folder, or fetch it with `npm run model:fetch`.',
    )
  }
  for (const tensor of tensors) {
    for (const entry of tensor.externalData!) {
      if (entry.key === 'location') entry.value = basename(real.get(entry.value!)!)
    }
  }
  return { bytes: onnx.ModelProto.encode(model).finish(), folder: [...folders][0]! }
}
