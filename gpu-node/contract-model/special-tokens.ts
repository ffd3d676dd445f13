/**
 * @module contract-model/special-tokens
 * The special token strings of Gemma 3n, the vocabulary description both tokenizer builders
 * return, and the tokenizer.json pieces they share (Gemma's normalizer, decoder and bos template).
 */

/** Role of each special token -> its string (the same strings in both vocabularies). */
export const SPECIAL_TOKENS = {
  pad: '<pad>',
  eos: '<eos>',
  bos: '<bos>',
  unk: '<unk>',
  startOfTurn: '<start_of_turn>',
  endOfTurn: '<end_of_turn>',
  boi: '<start_of_image>',
  eoi: '<end_of_image>',
  image: '<image_soft_token>',
  boa: '<start_of_audio>',
  eoa: '<end_of_audio>',
  audio: '<audio_soft_token>',
} as const

/** A special token role. */
export type SpecialRole = keyof typeof SPECIAL_TOKENS

/** A built vocabulary: tokenizer.json content, sizes and the id of every special token. */
export interface Vocabulary {
  tokenizerJson: Record<string, unknown>
  /** `vocab_size` */
  size: number
  /** `vocab_size_per_layer_input`: ids at or above it are image/audio soft-token rows. */
  perLayerSize: number
  ids: Record<SpecialRole, number>
}

/** One tokenizer.json `added_tokens` entry. */
export interface AddedToken {
  id: number
  content: string
  single_word: boolean
  lstrip: boolean
  rstrip: boolean
  normalized: boolean
  special: boolean
}

/** An added token with Gemma's flags. */
export function addedToken(id: number, content: string, special: boolean): AddedToken {
  return {
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special,
  }
}

/** The Gemma tokenizer.json around the model: spaces as '▁', byte fallback, `<bos>` prepended. */
export function gemmaPipeline(bosId: number): Record<string, unknown> {
  return {
    normalizer: { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
    pre_tokenizer: {
      type: 'Split',
      pattern: { String: ' ' },
      behavior: 'MergedWithPrevious',
      invert: false,
    },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '<bos>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '<bos>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<bos>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<bos>': { id: '<bos>', ids: [bosId], tokens: ['<bos>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
      ],
    },
  }
}

/** The BPE model section with Gemma's flags. */
export function bpeModel(vocab: Record<string, number>, merges: [string, string][]): object {
  return {
    type: 'BPE',
    dropout: null,
    unk_token: '<unk>',
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: true,
    byte_fallback: true,
    ignore_merges: false,
    vocab,
    merges,
  }
}
