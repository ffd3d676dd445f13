/**
 * @module contract-model/cache
 * A per-options cache of generated contract models, so the GPU node and tests generate each
 * variant once. Folder names carry the options and a hash of options + GENERATOR_VERSION; two
 * processes racing on one folder both end up with the winner's complete folder.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { ContractModelOptions } from './options.ts'
import { GENERATOR_VERSION, resolveOptions } from './options.ts'
import { ModelFolderExistsError, generateContractModel } from './generate.ts'

/** Cache root: `GEMMA_CONTRACT_CACHE`, else `<repo>/.cache/contract-models`. */
export function contractModelCacheRoot(): string {
  const fromEnv = process.env.GEMMA_CONTRACT_CACHE
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv)
  return resolve(import.meta.dirname, '..', '..', '.cache', 'contract-models')
}

/** Folder name: readable options, then a short hash of options + generator version. */
export function contractModelFolderName(o: ContractModelOptions): string {
  const hash = createHash('sha256')
    .update(JSON.stringify({ options: o, generator: GENERATOR_VERSION }))
    .digest('hex')
    .slice(0, 10)
  return [
    o.vocab,
    `L${o.layers}kv${o.kvLayers}`,
    `h${o.hidden}`,
    `a${o.heads}x${o.kvHeads}d${o.headDim}`,
    `p${o.perLayerDim}`,
    `f${o.ffn}`,
    o.attentionMask ? 'mask' : 'nomask',
    ...(o.groupQueryAttention ? ['gqa'] : []),
    ...(o.logitsToKeep ? ['keep'] : []),
    ...(o.inlineWeights ? ['inline'] : []),
    o.cacheDtype,
    o.dtypes.join('+'),
    `s${o.seed}`,
    hash,
  ].join('-')
}

/**
 * Returns the cached folder for these options, generating it first if absent.
 * @example const dir = await ensureContractModel({ vocab: 'small' })
 */
export async function ensureContractModel(
  partial: Partial<ContractModelOptions> = {},
): Promise<string> {
  const options = resolveOptions(partial)
  const root = contractModelCacheRoot()
  const dir = join(root, contractModelFolderName(options))
  // The folder only ever appears by an atomic rename of a complete one.
  if (existsSync(dir)) return dir
  await mkdir(root, { recursive: true })
  try {
    await generateContractModel(dir, options)
  } catch (error) {
    if (!(error instanceof ModelFolderExistsError)) throw error
  }
  return dir
}
