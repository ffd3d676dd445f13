/**
 * @module
 * What a loaded model is, as the rest of the node sees it (`ModelInfo`): read from the folder and the
 * decoder's checked signature, never assumed.
 */
import type { DecoderSignature } from './contract-check.ts'
import type { ModelFolder } from './model-folder.ts'
import type { OrtRuntime } from './ort-runtime.ts'
import type { ModelInfo } from './runner-types.ts'

const BYTES: Record<string, number> = { float32: 4, float16: 2 }

export function describeModel(
  folder: ModelFolder,
  runtime: OrtRuntime,
  sig: DecoderSignature,
): ModelInfo {
  const text = folder.textConfig
  const marker = folder.config.gemma_edge_contract_model as { note?: string } | undefined
  let kvBytesPerToken = 0
  for (const cache of sig.cache) {
    const [, heads, , dim] = cache.shape
    kvBytesPerToken += (Number(heads) || 1) * (Number(dim) || 1) * (BYTES[cache.type] ?? 4)
  }
  return {
    dir: folder.dir,
    dtypes: Object.fromEntries(
      Object.entries(folder.files).flatMap(([name, file]) => (file ? [[name, file.dtype]] : [])),
    ),
    device: runtime.device,
    runtime: runtime.name,
    vocabSize: Number(text.vocab_size),
    contextLength: Number(text.max_position_embeddings ?? 32_768),
    hasAttentionMask: sig.hasAttentionMask,
    // The runner batches only once a padding has proved itself (kv-padding-probe.ts).
    batchedDecode: false,
    kvPadding: null,
    promptLogits: sig.hasLogitsFrom
      ? 'graph_rewritten'
      : sig.hasNumLogitsToKeep
        ? 'num_logits_to_keep'
        : 'computed',
    samplingHead: 'session', // the runner says `fused` once its decoder has the head's outputs
    deferredSoftcap: false,
    vision: false,
    audio: false,
    kvLayers: sig.cache.length / 2,
    kvBytesPerToken,
    warnings: folder.warnings,
    contractModel: marker ? { note: marker.note ?? 'random-weight contract model' } : null,
  }
}
