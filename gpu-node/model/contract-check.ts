/**
 * @module
 * The start-up check of a model folder against the Gemma 3n ONNX contract (gemma3n-contract.md §2). It reads
 * each session's declared inputs and outputs and explains, in plain words and all at once, anything that
 * does not fit: a missing input, an unexpected one, a wrong dtype, a dimension that disagrees with
 * config.json. What passes is summarised as the signatures the runner uses; nothing is assumed beyond them.
 */
import { LOGITS_FROM_INPUT } from './last-position-logits.ts'
import type { JsonObject } from './model-folder.ts'
import type { InferenceSession, TensorType } from './ort-runtime.ts'

export interface CacheInput {
  /** `past_key_values.{i}.key|value` */
  name: string
  /** The matching output, `present.{i}.key|value`. */
  present: string
  type: TensorType
  /** Declared shape, e.g. `['batch_size', 2, 'past_sequence_length', 256]`. */
  shape: readonly (number | string)[]
}

export interface DecoderSignature {
  hasAttentionMask: boolean
  hasPositionIds: boolean
  hasNumLogitsToKeep: boolean
  /** The decoder was loaded rewritten (last-position-logits.ts): it takes `gemma_edge_logits_from`. */
  hasLogitsFrom: boolean
  hasUseCacheBranch: boolean
  embedsType: TensorType
  perLayerType: TensorType
  logitsType: TensorType
  cache: CacheInput[]
}

export class ContractMismatchError extends Error {
  override name = 'ContractMismatchError'
  readonly problems: string[]
  constructor(problems: string[], dir: string) {
    super(
      `The model folder ${dir} does not match the Gemma 3n ONNX contract:\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    )
    this.problems = problems
  }
}

const DECODER_OPTIONAL = new Set([
  'attention_mask',
  'position_ids',
  'num_logits_to_keep',
  'use_cache_branch',
  LOGITS_FROM_INPUT, // not the export's: added by the node's own rewrite (last-position-logits.ts)
])
const CACHE_NAME = /^past_key_values\.(\d+)\.(key|value)$/

/**
 * Checks the text sessions and returns the decoder's signature.
 * @throws ContractMismatchError listing every problem found.
 */
export function checkTextContract(
  dir: string,
  textConfig: JsonObject,
  embed: InferenceSession,
  decoder: InferenceSession,
): DecoderSignature {
  const problems: string[] = []
  const inputs = metadataByName(decoder.inputMetadata)
  const outputs = metadataByName(decoder.outputMetadata)
  const embedIn = metadataByName(embed.inputMetadata)
  const embedOut = metadataByName(embed.outputMetadata)

  expect(problems, 'embed_tokens', 'input', embedIn, 'input_ids', ['int64'])
  expect(problems, 'embed_tokens', 'output', embedOut, 'inputs_embeds', ['float32', 'float16'])
  expect(problems, 'embed_tokens', 'output', embedOut, 'per_layer_inputs', ['float32', 'float16'])
  expect(problems, 'decoder_model_merged', 'input', inputs, 'inputs_embeds', ['float32', 'float16'])
  expect(problems, 'decoder_model_merged', 'input', inputs, 'per_layer_inputs', [
    'float32',
    'float16',
  ])
  expect(problems, 'decoder_model_merged', 'output', outputs, 'logits', ['float32', 'float16'])
  if (inputs.has('position_ids')) {
    expect(problems, 'decoder_model_merged', 'input', inputs, 'position_ids', ['int64'])
  }
  if (inputs.has('attention_mask')) {
    expect(problems, 'decoder_model_merged', 'input', inputs, 'attention_mask', ['int64'])
  }
  for (const name of ['inputs_embeds', 'per_layer_inputs'] as const) {
    const produced = embedOut.get(name)?.type
    const consumed = inputs.get(name)?.type
    if (produced && consumed && produced !== consumed) {
      problems.push(
        `embed_tokens produces ${name} as ${produced} but decoder_model_merged expects ${consumed}.`,
      )
    }
  }

  const cache: CacheInput[] = []
  for (const [name, meta] of inputs) {
    const match = CACHE_NAME.exec(name)
    if (!match) {
      if (!DECODER_OPTIONAL.has(name) && name !== 'inputs_embeds' && name !== 'per_layer_inputs') {
        problems.push(
          `decoder_model_merged has an input "${name}" that the contract does not know.`,
        )
      }
      continue
    }
    const present = `present.${match[1]}.${match[2]}`
    if (!outputs.has(present)) {
      problems.push(`decoder_model_merged takes ${name} but has no ${present} output.`)
    } else if (outputs.get(present)?.type !== meta.type) {
      problems.push(`${name} is ${meta.type} but ${present} is ${outputs.get(present)?.type}.`)
    }
    if (meta.type !== 'float32' && meta.type !== 'float16') {
      problems.push(`${name} has dtype ${meta.type}; the KV cache must be float32 or float16.`)
    }
    checkCacheShape(problems, name, meta.shape, textConfig)
    cache.push({ name, present, type: meta.type as TensorType, shape: meta.shape })
  }
  if (cache.length === 0) problems.push('decoder_model_merged declares no past_key_values inputs.')
  checkHidden(problems, inputs.get('inputs_embeds')?.shape, textConfig)

  if (problems.length > 0) throw new ContractMismatchError(problems, dir)
  return {
    hasAttentionMask: inputs.has('attention_mask'),
    hasPositionIds: inputs.has('position_ids'),
    hasNumLogitsToKeep: inputs.has('num_logits_to_keep'),
    hasLogitsFrom: inputs.has(LOGITS_FROM_INPUT),
    hasUseCacheBranch: inputs.has('use_cache_branch'),
    embedsType: inputs.get('inputs_embeds')!.type as TensorType,
    perLayerType: inputs.get('per_layer_inputs')!.type as TensorType,
    logitsType: outputs.get('logits')!.type as TensorType,
    cache: cache.sort(compareCacheNames),
  }
}

interface Meta {
  type: string
  shape: readonly (number | string)[]
}

function metadataByName(list: readonly InferenceSession.ValueMetadata[]): Map<string, Meta> {
  const map = new Map<string, Meta>()
  for (const meta of list) {
    map.set(
      meta.name,
      meta.isTensor ? { type: meta.type, shape: meta.shape } : { type: 'non-tensor', shape: [] },
    )
  }
  return map
}

function expect(
  problems: string[],
  session: string,
  direction: 'input' | 'output',
  map: Map<string, Meta>,
  name: string,
  types: string[],
): void {
  const meta = map.get(name)
  if (!meta) problems.push(`${session} has no ${direction} "${name}".`)
  else if (!types.includes(meta.type)) {
    problems.push(
      `${session} ${direction} "${name}" is ${meta.type}; expected ${types.join(' or ')}.`,
    )
  }
}

function checkCacheShape(
  problems: string[],
  name: string,
  shape: readonly (number | string)[],
  textConfig: JsonObject,
): void {
  const [, heads, , dim] = shape
  if (shape.length !== 4) {
    problems.push(
      `${name} has ${shape.length} dimensions; expected [batch, kv_heads, past, head_dim].`,
    )
    return
  }
  const kvHeads = textConfig.num_key_value_heads
  const headDim = textConfig.head_dim
  if (typeof heads === 'number' && typeof kvHeads === 'number' && heads !== kvHeads) {
    problems.push(
      `${name} has ${heads} KV heads but config.json says num_key_value_heads=${kvHeads}.`,
    )
  }
  if (typeof dim === 'number' && typeof headDim === 'number' && dim !== headDim) {
    problems.push(`${name} has head_dim ${dim} but config.json says head_dim=${headDim}.`)
  }
}

function checkHidden(
  problems: string[],
  shape: readonly (number | string)[] | undefined,
  textConfig: JsonObject,
): void {
  const hidden = shape?.[2]
  if (typeof hidden === 'number' && typeof textConfig.hidden_size === 'number') {
    if (hidden !== textConfig.hidden_size) {
      problems.push(
        `decoder inputs_embeds has width ${hidden} but config.json says hidden_size=${textConfig.hidden_size}.`,
      )
    }
  }
}

function compareCacheNames(a: CacheInput, b: CacheInput): number {
  const [, ai = '0', ak = ''] = CACHE_NAME.exec(a.name) ?? []
  const [, bi = '0', bk = ''] = CACHE_NAME.exec(b.name) ?? []
  return Number(ai) - Number(bi) || ak.localeCompare(bk)
}
