/**
 * @module contract-model/tokenizer-small
 * A synthetic ~1,024-token vocabulary in Gemma's tokenizer.json shape: specials at low ids, the 256
 * byte-fallback tokens, '▁' and printable ASCII, BPE merges spelling common English words, unused
 * fillers, and the multimodal tokens at the top (eoi/image/eoa/audio above the per-layer vocabulary,
 * as in Gemma 3n). Any UTF-8 text round-trips through byte fallback.
 */
import type { AddedToken, SpecialRole, Vocabulary } from './special-tokens.ts'
import { SPECIAL_TOKENS, addedToken, bpeModel, gemmaPipeline } from './special-tokens.ts'

const SIZE = 1024
/** Ids >= this are soft-token rows, like 262144.. in Gemma 3n. */
const PER_LAYER_SIZE = SIZE - 8

const LOW_SPECIALS: SpecialRole[] = ['pad', 'eos', 'bos', 'unk', 'startOfTurn', 'endOfTurn']
/** id -> role for the multimodal tokens; boi/boa sit just below the per-layer boundary. */
const TOP_SPECIALS: Record<number, SpecialRole> = {
  [PER_LAYER_SIZE - 2]: 'boi',
  [PER_LAYER_SIZE - 1]: 'boa',
  [PER_LAYER_SIZE]: 'eoi',
  [PER_LAYER_SIZE + 1]: 'image',
  [PER_LAYER_SIZE + 4]: 'eoa',
  [PER_LAYER_SIZE + 5]: 'audio',
}

/** Words whose spelling becomes merge chains ('▁' marks a word start). */
const WORDS = (
  '▁the ▁and ▁to ▁of ▁a ▁in ▁is ▁it ▁you ▁that ▁he ▁was ▁for ▁on ▁are ▁with ▁as ▁I ▁his ▁they ' +
  '▁be ▁at ▁one ▁have ▁this ▁from ▁or ▁had ▁by ▁what ▁how ▁can ▁do ▁not ▁there ▁we ▁your ' +
  '▁Hello ▁hello ▁world ▁model ▁image ▁audio ▁answer ▁question ing ed er es ly tion ' +
  '▁The ▁This ▁What ▁describe ▁picture ▁sound ▁time ▁about ▁would ▁will'
).split(' ')

function byteToken(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`
}

/** Merge chains: '▁the' gives (▁,t) (▁t,h) (▁th,e); duplicates kept once, in first-seen order. */
function wordMerges(): [string, string][] {
  const merges: [string, string][] = []
  const seen = new Set<string>()
  for (const word of WORDS) {
    const chars = [...word]
    let left = chars[0] ?? ''
    for (const c of chars.slice(1)) {
      const key = `${left} ${c}`
      if (!seen.has(key)) {
        seen.add(key)
        merges.push([left, c])
      }
      left += c
    }
  }
  return merges
}

/** Builds the small vocabulary. */
export function buildSmallVocabulary(): Vocabulary {
  const vocab: Record<string, number> = {}
  const added: AddedToken[] = []
  const ids = {} as Record<SpecialRole, number>
  const push = (token: string): void => {
    if (!(token in vocab)) vocab[token] = Object.keys(vocab).length
  }
  for (const role of LOW_SPECIALS) {
    ids[role] = Object.keys(vocab).length
    added.push(addedToken(ids[role], SPECIAL_TOKENS[role], true))
    push(SPECIAL_TOKENS[role])
  }
  for (let b = 0; b < 256; b++) push(byteToken(b))
  for (const c of ['▁', '\n', '\t']) push(c)
  for (let c = 0x21; c < 0x7f; c++) push(String.fromCharCode(c))
  const merges = wordMerges()
  for (const [a, b] of merges) push(a + b)
  for (let id = Object.keys(vocab).length; id < SIZE; id++) {
    const role = TOP_SPECIALS[id]
    const content = role === undefined ? `<unused_${id}>` : SPECIAL_TOKENS[role]
    if (role !== undefined) ids[role] = id
    // Like Gemma: unused fillers are added but not special; above the boundary all are special.
    added.push(addedToken(id, content, role !== undefined || id >= PER_LAYER_SIZE))
    push(content)
  }
  if (Object.keys(vocab).length !== SIZE) throw new Error('small vocabulary overflowed its size')
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    ...gemmaPipeline(ids.bos),
    model: bpeModel(vocab, merges),
  }
  return { tokenizerJson, size: SIZE, perLayerSize: PER_LAYER_SIZE, ids }
}
