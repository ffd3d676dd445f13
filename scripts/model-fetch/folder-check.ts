/**
 * @module
 * After a download: the same folder check the GPU node runs at start (readModelFolder, then the text
 * sessions opened with onnxruntime-node on CPU and checked against the Gemma 3n contract), and the
 * command that starts a node with the folder.
 */
import { Gemma3nRunner } from '../../gpu-node/model/gemma3n-runner.ts'
import { readModelFolder } from '../../gpu-node/model/model-folder.ts'

export interface FolderCheck {
  /** Session → dtype, as the node will pick them with `GEMMA_DTYPE` set as printed. */
  dtypes: Record<string, string>
  /** Whether the text sessions were loaded (not only the files listed). */
  loaded: boolean
}

/**
 * Checks the folder as the GPU node will see it.
 * @param load open embed_tokens and decoder_model_merged (takes a few seconds and about their size in
 *   memory on the real model); `false` checks only the files and config
 * @throws ModelFolderError or ContractMismatchError, whose messages list the problems
 * @example await checkModelFolder('/models/gemma-3n-E2B-it-ONNX', 'q4', true)
 */
export async function checkModelFolder(
  dir: string,
  dtype: string,
  load: boolean,
): Promise<FolderCheck> {
  const folder = await readModelFolder(dir, dtype)
  const dtypes = Object.fromEntries(
    Object.entries(folder.files).flatMap(([session, file]) =>
      file ? [[session, file.dtype]] : [],
    ),
  )
  if (!load) return { dtypes, loaded: false }
  const runner = await Gemma3nRunner.load({ modelDir: dir, dtype, runtime: 'node', device: 'cpu' })
  await runner.close()
  return { dtypes, loaded: true }
}

/** How to start a GPU node with the folder, by hand and as a service. */
export function startHint(dir: string, dtype: string): string {
  return [
    'Start a GPU node with it:',
    `  GEMMA_MODEL_DIR=${shellQuote(dir)} GEMMA_DTYPE=${dtype} npm run gpu-node`,
    'As a service, set the same two variables in /etc/gemma-edge/gpu-node.env (see deploy/ and the',
    'README section "Getting the model and running a node as a service").',
  ].join('\n')
}

function shellQuote(value: string): string {
  return /^[\w./:@%+-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`
}
