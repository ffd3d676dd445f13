/**
 * @module test/model/contract-check
 * `Gemma3nRunner.load` refuses broken model folders with messages that name the problem in plain words:
 * a missing decoder file (listing the variants that are there), a dtype the folder does not have, an
 * unknown dtype name, a config of another model type, and a decoder graph with an input the contract
 * does not know and a KV cache of the wrong dtype (a tiny graph built here with the generator's
 * GraphBuilder, since the generator only writes valid decoders).
 */
import { cp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GraphBuilder } from '../../../gpu-node/contract-model/onnx-builder.ts'
import { ContractMismatchError } from '../../../gpu-node/model/contract-check.ts'
import { Gemma3nRunner } from '../../../gpu-node/model/gemma3n-runner.ts'
import { ModelFolderError } from '../../../gpu-node/model/model-folder.ts'
import { makeFolder, tempRoot } from './greedy.ts'

const HIDDEN = 64
const LAYERS = 4
const PER_LAYER = 16
const KV_HEADS = 1
const HEAD_DIM = 32

let root: string
let cleanup: () => Promise<void>
/** A valid small folder with fp32 and fp16 variants; each case breaks its own copy. */
let pristine: string
let copies = 0

beforeAll(async () => {
  ;({ root, cleanup } = await tempRoot('contract-check'))
  pristine = await makeFolder(root, 'pristine', {
    vocab: 'small',
    layers: LAYERS,
    hidden: HIDDEN,
    perLayerDim: PER_LAYER,
    kvHeads: KV_HEADS,
    headDim: HEAD_DIM,
    dtypes: ['fp32', 'fp16'],
  })
})

afterAll(async () => {
  await cleanup?.()
})

async function copyFolder(): Promise<string> {
  const dir = join(root, `copy-${++copies}`)
  await cp(pristine, dir, { recursive: true })
  return dir
}

/** The message `Gemma3nRunner.load` rejects with, checked to be of `type`. */
async function loadError(
  type: new (...args: never[]) => Error,
  modelDir: string,
  dtype?: string,
): Promise<string> {
  const error: unknown = await Gemma3nRunner.load({
    modelDir,
    dtype,
    runtime: 'node',
    device: 'cpu',
  })
    .then(async (runner) => {
      await runner.close()
      return null
    })
    .catch((e: unknown) => e)
  expect(error).toBeInstanceOf(type)
  return (error as Error).message
}

/**
 * A decoder that runs but breaks the contract twice: an extra `token_type_ids` input, and a
 * `past_key_values.0.key` of int64. Logits are the embeddings passed through ([batch, seq, hidden]).
 */
function brokenDecoder(): GraphBuilder {
  const g = new GraphBuilder(1)
  const seq = ['batch_size', 'sequence_length']
  const past = ['batch_size', KV_HEADS, 'past_sequence_length', HEAD_DIM]
  const present = ['batch_size', KV_HEADS, 'total_sequence_length', HEAD_DIM]
  const embeds = g.input('inputs_embeds', 'float32', [...seq, HIDDEN])
  g.input('per_layer_inputs', 'float32', [...seq, LAYERS, PER_LAYER])
  g.input('position_ids', 'int64', seq)
  g.input('token_type_ids', 'int64', seq)
  const key = g.input('past_key_values.0.key', 'int64', past)
  const value = g.input('past_key_values.0.value', 'float32', past)
  g.op('Identity', [embeds], {}, 'logits')
  g.op('Identity', [key], {}, 'present.0.key')
  g.op('Identity', [value], {}, 'present.0.value')
  g.output('logits', 'float32', [...seq, HIDDEN])
  g.output('present.0.key', 'int64', present)
  g.output('present.0.value', 'float32', present)
  return g
}

describe('Gemma3nRunner.load on broken folders', () => {
  it('loads the unbroken folder (the cases below fail only for what they break)', async () => {
    const runner = await Gemma3nRunner.load({ modelDir: pristine, runtime: 'node', device: 'cpu' })
    expect(runner.info.dtypes.decoder_model_merged).toBe('fp32')
    await runner.close()
  })

  it('names a deleted decoder file and lists the variants present', async () => {
    const dir = await copyFolder()
    await rm(join(dir, 'onnx', 'decoder_model_merged.onnx'))
    const message = await loadError(ModelFolderError, dir)
    expect(message).toContain('has no onnx/decoder_model_merged.onnx (dtype fp32)')
    expect(message).toContain('Variants present: decoder_model_merged_fp16.onnx.')
  })

  it('names a dtype the folder does not have', async () => {
    const message = await loadError(ModelFolderError, pristine, 'q4')
    // embed_tokens is looked up first; the variants are listed in directory order.
    expect(message).toContain('has no onnx/embed_tokens_q4.onnx (dtype q4).')
    expect(message).toMatch(/Variants present: .*embed_tokens\.onnx/)
    expect(message).toMatch(/Variants present: .*embed_tokens_fp16\.onnx/)
  })

  it('refuses an unknown dtype name and lists the known ones', async () => {
    const message = await loadError(ModelFolderError, pristine, 'q3')
    expect(message).toBe('Unknown dtype "q3". Known: fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4.')
  })

  it('refuses a config of another model type', async () => {
    const dir = await copyFolder()
    const path = join(dir, 'config.json')
    const config = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
    await writeFile(path, JSON.stringify({ ...config, model_type: 'llama' }))
    const message = await loadError(ModelFolderError, dir)
    expect(message).toBe(`${path} has model_type "llama"; gemma-edge serves "gemma3n" models.`)
  })

  it('lists an unknown decoder input and a wrong cache dtype together', async () => {
    const dir = await copyFolder()
    const { model, data } = brokenDecoder().encode('broken', 'decoder_model_merged.onnx_data')
    await writeFile(join(dir, 'onnx', 'decoder_model_merged.onnx'), model)
    await writeFile(join(dir, 'onnx', 'decoder_model_merged.onnx_data'), data)
    const message = await loadError(ContractMismatchError, dir)
    expect(message).toContain(`The model folder ${dir} does not match the Gemma 3n ONNX contract:`)
    expect(message).toContain(
      'decoder_model_merged has an input "token_type_ids" that the contract does not know.',
    )
    expect(message).toContain(
      'past_key_values.0.key has dtype int64; the KV cache must be float32 or float16.',
    )
    expect(message.split('\n')).toHaveLength(3)
  })
})
