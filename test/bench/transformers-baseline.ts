/**
 * @module
 * The reference runtime on the same folder and workload: transformers.js `generate()` calls, `concurrency`
 * at once (it has no continuous batching: concurrent calls interleave on one thread). Sampling settings
 * come from the folder's generation_config.json, as on the GPU node. It loads the files the node picked
 * (`GEMMA_DTYPE`) on the node's device where transformers.js has it in Node (cpu, cuda, webgpu; wasm
 * compares with cpu), so a GPU box compares like with like.
 */
import { AutoProcessor, env, Gemma3nForConditionalGeneration } from '@huggingface/transformers'
import { readModelFolder } from '../../gpu-node/model/model-folder.ts'
import { MIN_REQUESTS, PROMPTS } from './load.ts'

export interface BaselineResult {
  concurrency: number
  tokens_per_s: number
}

/** transformers.js's devices in Node (onnxruntime-node's execution providers). */
const TJS_DEVICES = new Set(['cpu', 'cuda', 'webgpu'])

/** What the baseline runs on: the node's device and, per session, the file variant the node loads. */
export async function baselineSetup(modelDir: string, nodeDevice: string) {
  const folder = await readModelFolder(modelDir, process.env.GEMMA_DTYPE?.trim() || undefined)
  const dtype: Record<string, string> = {}
  for (const [session, file] of Object.entries(folder.files)) if (file) dtype[session] = file.dtype
  const device = TJS_DEVICES.has(nodeDevice) ? nodeDevice : 'cpu'
  return { device: device as 'cpu' | 'cuda' | 'webgpu', dtype }
}

export async function transformersBaseline(
  modelDir: string,
  setup: Awaited<ReturnType<typeof baselineSetup>>,
  levels: number[],
  maxTokens: number,
): Promise<BaselineResult[]> {
  env.allowRemoteModels = false
  env.allowLocalModels = true
  const processor = await AutoProcessor.from_pretrained(modelDir, { local_files_only: true })
  const model = await Gemma3nForConditionalGeneration.from_pretrained(modelDir, {
    dtype: setup.dtype as Record<string, 'fp32'>,
    device: setup.device,
    local_files_only: true,
  })
  const generateOne = async (i: number): Promise<number> => {
    const messages = [
      { role: 'user', content: [{ type: 'text', text: PROMPTS[i % PROMPTS.length] }] },
    ]
    const prompt = processor.apply_chat_template(messages, { add_generation_prompt: true })
    const inputs = await processor(prompt, null, null, { add_special_tokens: false })
    const output = (await model.generate({ ...inputs, max_new_tokens: maxTokens })) as {
      dims: number[]
    }
    return output.dims[1]! - (inputs.input_ids as { dims: number[] }).dims[1]!
  }
  await generateOne(99) // warm-up
  const results: BaselineResult[] = []
  for (const concurrency of levels) {
    // The same closed-loop workload as the GPU node's levels (load.ts).
    const rounds = Math.max(1, Math.ceil(MIN_REQUESTS / concurrency))
    const client = async (i: number) => {
      let generated = 0
      for (let r = 0; r < rounds; r++) generated += await generateOne(i + r * concurrency)
      return generated
    }
    const start = performance.now()
    const counts = await Promise.all(Array.from({ length: concurrency }, (_, i) => client(i)))
    const seconds = (performance.now() - start) / 1000
    results.push({ concurrency, tokens_per_s: counts.reduce((a, b) => a + b, 0) / seconds })
  }
  await model.dispose()
  return results
}
