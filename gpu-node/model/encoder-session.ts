/**
 * @module
 * One encoder session with its I/O checked at load against the contract names (gemma3n-contract.md §2) and
 * its declared dtypes read from session metadata: float32 inputs are converted when the graph declares
 * float16, and float16 outputs come back as float32. A run returns one [rows, hidden] array per batch item.
 */
import { float16ToFloat32 } from './float16.ts'
import { float32ToFloat16 } from './float32-to-float16.ts'
import type { SessionFile } from './model-folder.ts'
import type { InferenceSession, OrtRuntime, Tensor, TensorType } from './ort-runtime.ts'
import { ModelError, sessionRun } from './session-run.ts'

/** Contract I/O of an encoder. */
export interface EncoderSpec {
  label: string
  inputs: readonly string[]
  output: string
}

export const VISION_ENCODER: EncoderSpec = {
  label: 'vision_encoder',
  inputs: ['pixel_values'],
  output: 'image_features',
}

export const AUDIO_ENCODER: EncoderSpec = {
  label: 'audio_encoder',
  inputs: ['input_features', 'input_features_mask'],
  output: 'audio_features',
}

/** Features of one batch item: [rows, hidden]. */
export interface ItemFeatures {
  data: Float32Array
  rows: number
  hidden: number
}

/** Feeds by input name: float32 values (bool inputs: 0/1 bytes) and dims. */
export type EncoderFeeds = Record<string, [Float32Array | Uint8Array, number[]]>

export interface EncoderSession {
  readonly session: InferenceSession
  run(feeds: EncoderFeeds): Promise<ItemFeatures[]>
}

const INPUT_TYPES: readonly string[] = ['float32', 'float16', 'bool']

/**
 * Wraps a loaded encoder session; throws a ModelError naming the file when its I/O is not the contract's.
 * @example const vision = encoderSession(runtime, session, file, VISION_ENCODER)
 */
export function encoderSession(
  runtime: OrtRuntime,
  session: InferenceSession,
  file: SessionFile,
  spec: EncoderSpec,
): EncoderSession {
  const declared = new Map<string, string>()
  for (const meta of session.inputMetadata) {
    declared.set(meta.name, meta.isTensor ? meta.type : 'not a tensor')
  }
  for (const name of spec.inputs) {
    const type = declared.get(name)
    if (type === undefined || !INPUT_TYPES.includes(type)) {
      throw new ModelError(
        `${file.path} should take "${name}" (${INPUT_TYPES.join(' / ')}); its inputs are ` +
          `${[...declared].map(([n, t]) => `${n}: ${t}`).join(', ')}`,
      )
    }
  }
  if (!session.outputNames.includes(spec.output)) {
    throw new ModelError(
      `${file.path} should output "${spec.output}"; its outputs are ${session.outputNames.join(', ')}`,
    )
  }
  const toTensor = (name: string, [data, dims]: [Float32Array | Uint8Array, number[]]): Tensor => {
    const type = declared.get(name) as TensorType
    if (type === 'bool') return runtime.tensor('bool', data as Uint8Array, dims)
    const values = data as Float32Array
    return type === 'float16'
      ? runtime.tensor('float16', float32ToFloat16(values), dims)
      : runtime.tensor('float32', values, dims)
  }
  return {
    session,
    async run(feeds) {
      const tensors: Record<string, Tensor> = {}
      for (const [name, feed] of Object.entries(feeds)) tensors[name] = toTensor(name, feed)
      const outputs = await sessionRun(spec.label, session, tensors)
      return splitItems(spec, outputs[spec.output]!, feeds[spec.inputs[0]!]![1][0]!)
    },
  }
}

/** [N, rows, hidden] output -> N float32 copies of [rows, hidden]. */
function splitItems(spec: EncoderSpec, output: Tensor, batch: number): ItemFeatures[] {
  const [n, rows, hidden] = output.dims
  if (output.dims.length !== 3 || n !== batch) {
    throw new ModelError(
      `${spec.label} returned ${spec.output} [${output.dims.join(', ')}]; expected [${batch}, rows, hidden]`,
    )
  }
  let data: Float32Array
  if (output.type === 'float32') data = output.data as Float32Array
  else if (output.type === 'float16') data = float16ToFloat32(output.data as Uint16Array)
  else throw new ModelError(`${spec.label} returned ${spec.output} as ${output.type}`)
  const size = rows! * hidden!
  // Copies, so a cached item does not pin the whole batch's buffer.
  const items = Array.from({ length: batch }, (_, b) => ({
    data: data.slice(b * size, (b + 1) * size),
    rows: rows!,
    hidden: hidden!,
  }))
  output.dispose()
  return items
}
