/**
 * @module contract-model/cli
 * `node gpu-node/contract-model/cli.ts --out DIR [--vocab small|gemma] [--layers N] ...`: writes a
 * contract model folder to DIR; without `--out` it prints the path of the cached folder
 * (`ensureContractModel`). Bad arguments exit with status 2.
 */
import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import type { CacheDtype, ContractModelOptions, VocabKind } from './options.ts'
import { resolveOptions } from './options.ts'
import { generateContractModel } from './generate.ts'
import { ensureContractModel } from './cache.ts'

const USAGE = `usage: node gpu-node/contract-model/cli.ts [--out DIR] [--vocab small|gemma] [--layers N]
  [--kv-layers N] [--hidden N] [--heads N] [--kv-heads N] [--head-dim N] [--per-layer-dim N]
  [--ffn N] [--no-attention-mask] [--group-query-attention] [--logits-to-keep] [--inline-weights]
  [--cache-dtype float32|float16] [--dtypes fp32,q4] [--seed N]`

/** Flag -> option key for the integer flags. */
const INT_FLAGS = {
  layers: 'layers',
  'kv-layers': 'kvLayers',
  hidden: 'hidden',
  heads: 'heads',
  'kv-heads': 'kvHeads',
  'head-dim': 'headDim',
  'per-layer-dim': 'perLayerDim',
  ffn: 'ffn',
  seed: 'seed',
} as const

const STRING_OPTIONS = { type: 'string' } as const

function parseInt10(flag: string, text: string): number {
  if (!/^\d+$/.test(text))
    throw new Error(`--${flag} must be a non-negative integer, got "${text}"`)
  return Number(text)
}

/** Parses argv into an output folder (or null) and partial options. */
export function parseCliArgs(argv: string[]): {
  out: string | null
  options: Partial<ContractModelOptions>
} {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      out: STRING_OPTIONS,
      vocab: STRING_OPTIONS,
      'no-attention-mask': { type: 'boolean' },
      'group-query-attention': { type: 'boolean' },
      'logits-to-keep': { type: 'boolean' },
      'inline-weights': { type: 'boolean' },
      'cache-dtype': STRING_OPTIONS,
      dtypes: STRING_OPTIONS,
      ...Object.fromEntries(Object.keys(INT_FLAGS).map((k) => [k, STRING_OPTIONS])),
    },
  })
  const options: Partial<ContractModelOptions> = {}
  if (values.vocab !== undefined) options.vocab = values.vocab as VocabKind
  if (values['no-attention-mask'] === true) options.attentionMask = false
  if (values['group-query-attention'] === true) options.groupQueryAttention = true
  if (values['logits-to-keep'] === true) options.logitsToKeep = true
  if (values['inline-weights'] === true) options.inlineWeights = true
  if (values['cache-dtype'] !== undefined) options.cacheDtype = values['cache-dtype'] as CacheDtype
  if (values.dtypes !== undefined) options.dtypes = values.dtypes.split(',').map((d) => d.trim())
  for (const [flag, key] of Object.entries(INT_FLAGS)) {
    const text = (values as Record<string, unknown>)[flag]
    if (typeof text === 'string') options[key] = parseInt10(flag, text)
  }
  return { out: typeof values.out === 'string' ? resolve(values.out) : null, options }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE)
    return
  }
  let parsed: ReturnType<typeof parseCliArgs>
  let options: ContractModelOptions
  try {
    parsed = parseCliArgs(args)
    options = resolveOptions(parsed.options)
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`)
    process.exit(2)
  }
  if (parsed.out === null) {
    console.log(await ensureContractModel(options))
  } else {
    await generateContractModel(parsed.out, options)
    console.log(parsed.out)
  }
}

if (import.meta.main) await main()
