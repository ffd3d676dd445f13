/**
 * @module contract-model/generate
 * Writes a complete onnx-community-style Gemma 3n folder (configs, tokenizer, four ONNX graphs per
 * dtype variant, with external data unless `inlineWeights`) into a temporary sibling folder and renames it into place, so
 * a half-written folder is never taken for a model.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { GraphBuilder } from './onnx-builder.ts'
import type { CacheDtype, ContractModelOptions } from './options.ts'
import { DTYPE_SUFFIXES, cacheDtypeFor } from './options.ts'
import type { Vocabulary } from './special-tokens.ts'
import { buildSmallVocabulary } from './tokenizer-small.ts'
import { buildGemmaVocabulary } from './tokenizer-gemma.ts'
import { configFiles } from './config-files.ts'
import { buildEmbedTokens } from './graph-embed.ts'
import { buildDecoder } from './graph-decoder.ts'
import { buildAudioEncoder, buildVisionEncoder } from './graph-encoders.ts'

/** Thrown when the target folder already exists (another process may have won a race). */
export class ModelFolderExistsError extends Error {
  constructor(dir: string) {
    super(`contract model folder already exists: ${dir}`)
    this.name = 'ModelFolderExistsError'
  }
}

async function writeGraph(
  onnxDir: string,
  stem: string,
  graph: GraphBuilder,
  inline: boolean,
): Promise<void> {
  const { model, data } = graph.encode(stem, inline ? null : `${stem}.onnx_data`)
  await writeFile(join(onnxDir, `${stem}.onnx`), model)
  if (!inline) await writeFile(join(onnxDir, `${stem}.onnx_data`), data)
}

async function writeFolder(dir: string, o: ContractModelOptions, v: Vocabulary): Promise<void> {
  const onnxDir = join(dir, 'onnx')
  await mkdir(onnxDir, { recursive: true })
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(v.tokenizerJson))
  for (const [name, text] of Object.entries(configFiles(o, v))) {
    await writeFile(join(dir, name), text)
  }
  // Weights do not depend on the variant (no real quantization): build each graph once.
  const shared = {
    embed_tokens: buildEmbedTokens(o, v),
    vision_encoder: buildVisionEncoder(o),
    audio_encoder: buildAudioEncoder(o),
  }
  const decoders = new Map<CacheDtype, GraphBuilder>()
  for (const dtype of o.dtypes) {
    const suffix = DTYPE_SUFFIXES[dtype] ?? ''
    for (const [stem, graph] of Object.entries(shared)) {
      await writeGraph(onnxDir, `${stem}${suffix}`, graph, o.inlineWeights)
    }
    const cache = cacheDtypeFor(dtype, o)
    const decoder = decoders.get(cache) ?? buildDecoder(o, v, cache)
    decoders.set(cache, decoder)
    await writeGraph(onnxDir, `decoder_model_merged${suffix}`, decoder, o.inlineWeights)
  }
}

/**
 * Generates the folder `dir` (which must not exist) for validated options (see `resolveOptions`).
 * @throws ModelFolderExistsError when `dir` appeared meanwhile; the temporary folder is removed
 * @example await generateContractModel('/tmp/m', resolveOptions({ vocab: 'small' }))
 */
export async function generateContractModel(
  dir: string,
  options: ContractModelOptions,
): Promise<void> {
  const vocabulary =
    options.vocab === 'gemma' ? await buildGemmaVocabulary() : buildSmallVocabulary()
  const tmp = `${dir}.tmp-${randomBytes(6).toString('hex')}`
  try {
    await writeFolder(tmp, options, vocabulary)
    await rename(tmp, dir)
  } catch (error) {
    await rm(tmp, { recursive: true, force: true })
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new ModelFolderExistsError(dir)
    throw error
  }
}
