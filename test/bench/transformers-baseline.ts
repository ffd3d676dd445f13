/**
 * @module
 * The reference runtime on the same folder and workload: transformers.js `generate()` calls, `concurrency`
 * at once (it has no continuous batching: concurrent calls interleave on one thread). Sampling settings
 * come from the folder's generation_config.json, as on the GPU node.
 */
import { AutoProcessor, env, Gemma3nForConditionalGeneration } from '@huggingface/transformers'
import { MIN_REQUESTS, PROMPTS } from './load.ts'

export interface BaselineResult {
  concurrency: number
  tokens_per_s: number
}

export async function transformersBaseline(
  modelDir: string,
  levels: number[],
  maxTokens: number,
): Promise<BaselineResult[]> {
  env.allowRemoteModels = false
  env.allowLocalModels = true
  const processor = await AutoProcessor.from_pretrained(modelDir, { local_files_only: true })
  const model = await Gemma3nForConditionalGeneration.from_pretrained(modelDir, {
    dtype: 'fp32',
    device: 'cpu',
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
