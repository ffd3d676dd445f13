/**
 * @module
 * Resolves a model's special token ids from its folder, so nothing about Gemma ids is hard-coded: numeric
 * ids in generation_config.json win (what `generate()` uses), then config.json (top level or
 * `text_config`), then the token strings named in tokenizer_config.json looked up in tokenizer.json.
 */
import { join } from 'node:path'
import type { JsonObject, ModelTextFiles } from './model-files.ts'

/** Token ids the engine and the multimodal merge need. */
export interface SpecialTokens {
  bos: number
  /** Every id that ends a generation (Gemma 3n: `<eos>` and `<end_of_turn>`). */
  eos: number[]
  pad: number
  imageToken?: number
  audioToken?: number
  boi?: number
  eoi?: number
  boa?: number
  eoa?: number
  startOfTurn?: number
  endOfTurn?: number
}

type TokenLookup = (token: string) => number | undefined

/** Where a special token is declared: the numeric id key in the configs, the string key in tokenizer_config. */
interface TokenKeys {
  idKey: string
  nameKey: string
}

const KEYS = {
  bos: { idKey: 'bos_token_id', nameKey: 'bos_token' },
  eos: { idKey: 'eos_token_id', nameKey: 'eos_token' },
  pad: { idKey: 'pad_token_id', nameKey: 'pad_token' },
  imageToken: { idKey: 'image_token_id', nameKey: 'image_token' },
  audioToken: { idKey: 'audio_token_id', nameKey: 'audio_token' },
  boi: { idKey: 'boi_token_id', nameKey: 'boi_token' },
  eoi: { idKey: 'eoi_token_id', nameKey: 'eoi_token' },
  boa: { idKey: 'boa_token_id', nameKey: 'boa_token' },
  eoa: { idKey: 'eoa_token_id', nameKey: 'eoa_token' },
} as const satisfies Record<string, TokenKeys>

/** The turn markers the Gemma chat template writes literally; they have no config key. */
const TURN_MARKERS = { startOfTurn: '<start_of_turn>', endOfTurn: '<end_of_turn>' } as const

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const isTokenId = (value: unknown): value is number => Number.isInteger(value) && Number(value) >= 0

/** A tokenizer_config token entry is a string or an AddedToken object (`{ content: '<bos>', ... }`). */
export function tokenString(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  return isObject(value) && typeof value.content === 'string' ? value.content : undefined
}

function parseIds(value: unknown, file: string, key: string): number[] | undefined {
  if (value === undefined || value === null) return undefined
  const list: unknown[] = Array.isArray(value) ? value : [value]
  if (list.length === 0 || !list.every(isTokenId)) {
    throw new Error(`${file}: "${key}" must be a token id or a non-empty list of token ids`)
  }
  return list as number[]
}

function idsFromConfigs(files: ModelTextFiles, key: string): number[] | undefined {
  const generation = parseIds(
    files.generationConfig?.[key],
    join(files.dir, 'generation_config.json'),
    key,
  )
  if (generation) return generation
  const configFile = join(files.dir, 'config.json')
  const textConfig = files.config?.text_config
  return (
    parseIds(files.config?.[key], configFile, key) ??
    parseIds(isObject(textConfig) ? textConfig[key] : undefined, configFile, `text_config.${key}`)
  )
}

function idFromName(files: ModelTextFiles, key: string, lookup: TokenLookup): number | undefined {
  const extra = files.tokenizerConfig.extra_special_tokens
  const name =
    tokenString(files.tokenizerConfig[key]) ??
    (isObject(extra) ? tokenString(extra[key]) : undefined)
  if (name === undefined) return undefined
  const id = lookup(name)
  if (id === undefined) {
    throw new Error(
      `${join(files.dir, 'tokenizer_config.json')}: "${key}" is ${name}, which tokenizer.json lacks`,
    )
  }
  return id
}

function resolveIds(files: ModelTextFiles, keys: TokenKeys, lookup: TokenLookup) {
  const ids = idsFromConfigs(files, keys.idKey)
  if (ids) return ids
  const id = idFromName(files, keys.nameKey, lookup)
  return id === undefined ? undefined : [id]
}

function missing(files: ModelTextFiles, keys: TokenKeys): Error {
  return new Error(
    `No ${keys.idKey} in ${files.dir}: looked in generation_config.json, config.json and ` +
      `"${keys.nameKey}" in tokenizer_config.json`,
  )
}

/**
 * Resolves all special ids of a model folder. `bos` and `eos` are required; `pad` falls back to the
 * first EOS id (as transformers' `generate()` does); the rest are optional.
 *
 * @example
 * const special = resolveSpecialTokens(files, (t) => tokenizer.token_to_id(t))
 */
export function resolveSpecialTokens(files: ModelTextFiles, lookup: TokenLookup): SpecialTokens {
  const bos = resolveIds(files, KEYS.bos, lookup)?.[0]
  if (bos === undefined) throw missing(files, KEYS.bos)
  const eos = resolveIds(files, KEYS.eos, lookup)
  if (eos === undefined) throw missing(files, KEYS.eos)
  const special: SpecialTokens = {
    bos,
    eos,
    pad: resolveIds(files, KEYS.pad, lookup)?.[0] ?? eos[0]!,
  }
  for (const name of ['imageToken', 'audioToken', 'boi', 'eoi', 'boa', 'eoa'] as const) {
    const id = resolveIds(files, KEYS[name], lookup)?.[0]
    if (id !== undefined) special[name] = id
  }
  for (const name of ['startOfTurn', 'endOfTurn'] as const) {
    const id = lookup(TURN_MARKERS[name])
    if (id !== undefined) special[name] = id
  }
  return special
}
