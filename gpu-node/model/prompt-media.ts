/**
 * @module
 * A prompt's encoded media, merged into `inputs_embeds` chunk by chunk: with chunked prefill a chunk covers
 * prompt positions [start, start + count), so only the soft-token rows that fall inside it are written, at
 * positions relative to the chunk (gemma3n-contract.md §3, step 2; `per_layer_inputs` is left alone).
 */
import { checkRowCount, mergeFeatures } from './merge-features.ts'
import type { FeatureBatch } from './merge-features.ts'

interface Part {
  /** Absolute prompt positions, one per feature row, ascending. */
  positions: number[]
  /** Rows flattened: [positions.length, hidden]. */
  rows: Float32Array
  hidden: number
}

export class PromptMedia {
  readonly #parts: Part[] = []

  /**
   * Adds an encoder batch ([items, rows, hidden]) whose rows go to `positions`, in order. Checked here, not
   * only where a chunk merges them: an encoder that gives another number of rows than the prompt has soft
   * tokens fails the request before any of its prompt has run.
   */
  add(positions: number[], features: FeatureBatch): void {
    checkRowCount(positions, features)
    if (positions.length === 0) return
    this.#parts.push({ positions, rows: features.data, hidden: features.dims[2] })
  }

  /** Whether a soft token sits at prompt position `position`. */
  covers(position: number): boolean {
    return this.#parts.some((part) => part.positions.includes(position))
  }

  /** Writes the rows whose positions fall in [start, start + count) into a chunk's `inputs_embeds`. */
  mergeInto(inputsEmbeds: Float32Array | Uint16Array, start: number, count: number): void {
    for (const part of this.#parts) {
      const first = part.positions.findIndex((p) => p >= start)
      if (first === -1 || part.positions[first]! >= start + count) continue
      let end = first
      while (end < part.positions.length && part.positions[end]! < start + count) end++
      const rows = part.rows.subarray(first * part.hidden, end * part.hidden)
      const positions = part.positions.slice(first, end).map((p) => p - start)
      mergeFeatures(inputsEmbeds, positions, { data: rows, dims: [1, end - first, part.hidden] })
    }
  }
}
