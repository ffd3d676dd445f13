/**
 * @module test/oracle/oracle
 * transformers.js 4.3.1 as the reference implementation: loads a model folder from local files only
 * (absolute path, no hub), renders and tokenizes prompts with its own processor, and generates greedily
 * with `Gemma3nForConditionalGeneration.generate` (contract-model.md, "Oracle results and traps").
 */
import {
  AutoProcessor,
  Gemma3nForConditionalGeneration,
  Tensor as TjsTensor,
  env,
} from '@huggingface/transformers'
import type { Processor } from '@huggingface/transformers'
import type { ChatMessage } from '../../../gpu-node/text/chat-tokenizer.ts'

export interface Oracle {
  /** Prompt ids: the processor's chat template, then its tokenizer with add_special_tokens: false. */
  promptIds(messages: ChatMessage[]): number[]
  /**
   * `generate({ do_sample: false })` from these prompt ids; returns only the new ids. With
   * `stopAtEos: false` the EOS ids of generation_config.json are switched off (`eos_token_id: []`),
   * so exactly `maxNew` ids come back.
   */
  greedy(prompt: number[], maxNew: number, opts?: { stopAtEos: boolean }): Promise<number[]>
  dispose(): Promise<void>
}

/** Loads processor and model of `dir` (absolute; transformers.js caches by path, so use fresh ones). */
export async function loadOracle(dir: string): Promise<Oracle> {
  env.allowRemoteModels = false
  env.allowLocalModels = true
  const processor: Processor = await AutoProcessor.from_pretrained(dir, { local_files_only: true })
  const model = await Gemma3nForConditionalGeneration.from_pretrained(dir, {
    dtype: 'fp32',
    device: 'cpu',
    local_files_only: true,
  })
  return {
    promptIds(messages) {
      const text = processor.apply_chat_template(messages, { add_generation_prompt: true })
      if (typeof text !== 'string') throw new Error('apply_chat_template did not return text')
      const encoded = processor.tokenizer!(text, { add_special_tokens: false })
      return Array.from((encoded.input_ids as TjsTensor).data as BigInt64Array, Number)
    },
    async greedy(prompt, maxNew, opts = { stopAtEos: true }) {
      const dims = [1, prompt.length]
      const output = (await model.generate({
        input_ids: new TjsTensor('int64', BigInt64Array.from(prompt, BigInt), dims),
        attention_mask: new TjsTensor('int64', new BigInt64Array(prompt.length).fill(1n), dims),
        max_new_tokens: maxNew,
        do_sample: false,
        ...(opts.stopAtEos ? {} : { eos_token_id: [] }),
      })) as TjsTensor
      // [1, prompt + new]: generate() returns the prompt followed by the new ids.
      return Array.from(output.data as BigInt64Array, Number).slice(prompt.length)
    },
    async dispose() {
      await model.dispose()
    },
  }
}
