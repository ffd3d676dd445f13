/**
 * @module test/oracle/prompts
 * The conversations the oracle compares: one short user turn, a system prompt, a multi-turn chat, a long
 * (~200-token) turn, and non-ASCII text (emoji, CJK) that the small vocabulary only covers through byte
 * fallback.
 */
import type { ChatMessage } from '../../../gpu-node/text/chat-tokenizer.ts'

/** About 1,000 characters of plain English: ~200 tokens with either vocabulary. */
const LONG_TEXT = [
  'The lighthouse keeper kept a careful log of every ship that passed the rocky point at night.',
  'Each entry listed the hour, the weather, the colour of the running lights and the direction of travel.',
  'In winter the storms came from the north, and the waves climbed the cliffs until spray hit the lamp room.',
  'She trimmed the wick, wound the clockwork that turned the lens, and polished the brass until it shone.',
  'Supplies arrived once a month by boat: flour, lamp oil, letters from the mainland and a stack of newspapers.',
  'Between the watches she read about distant cities, new machines and elections in countries she would never visit.',
  'When the fog rolled in she sounded the horn every thirty seconds, counting the beats under her breath.',
  'Summarise her routine in two sentences, then list the three things she would miss most if she left.',
].join(' ')

export const PROMPTS = {
  single: [{ role: 'user', content: 'Hello! How are you today?' }],
  system: [
    { role: 'system', content: 'You are a terse assistant. Answer in one line.' },
    { role: 'user', content: 'Name three primary colours.' },
  ],
  multiTurn: [
    { role: 'user', content: 'What is the capital of France?' },
    { role: 'assistant', content: 'The capital of France is Paris.' },
    { role: 'user', content: 'And how many people live there?' },
  ],
  long: [{ role: 'user', content: LONG_TEXT }],
  unicode: [{ role: 'user', content: 'Grüße 👋🏽 你好，世界！ 日本語のテキスト 🇯🇵 café — naïve 😀' }],
} satisfies Record<string, ChatMessage[]>

export type PromptName = keyof typeof PROMPTS
