/**
 * @module
 * HTK-scale triangular mel filters, triangles in Hz space, no area normalisation: what the Gemma 3n feature
 * extractor builds (`mel_filter_bank(..., norm=None, mel_scale="htk")` in HF transformers audio_utils.py,
 * `mel_filter_bank` in transformers.js src/utils/audio.js). Stored sparse: each filter keeps only its
 * non-zero run of FFT bins, so applying 128 filters to 513 bins costs ~1,000 multiply-adds, not 65,664.
 */

/** One filter: weights for FFT bins `start .. start + weights.length - 1`. */
export interface MelFilter {
  start: number
  weights: Float64Array
}

export interface MelFilterBankSpec {
  /** fft_length / 2 + 1 */
  frequencyBins: number
  melBins: number
  minFrequency: number
  maxFrequency: number
  sampleRate: number
}

const hertzToMel = (hz: number) => 2595.0 * Math.log10(1.0 + hz / 700.0)
const melToHertz = (mel: number) => 700.0 * (10.0 ** (mel / 2595.0) - 1.0)

/** `num` evenly spaced values from `start` to `end` inclusive (numpy.linspace). */
function linspace(start: number, end: number, num: number): Float64Array {
  const step = (end - start) / (num - 1)
  return Float64Array.from({ length: num }, (_, i) => start + step * i)
}

/**
 * Builds the filters. Bin frequencies are `linspace(0, floor(sampleRate / 2), frequencyBins)` and filter
 * corners are evenly spaced in HTK mel between the min and max frequency, as in the references.
 * @example const filters = melFilterBank({ frequencyBins: 513, melBins: 128, minFrequency: 125, maxFrequency: 7600, sampleRate: 16000 })
 */
export function melFilterBank(spec: MelFilterBankSpec): MelFilter[] {
  const { frequencyBins, melBins, minFrequency, maxFrequency, sampleRate } = spec
  if (frequencyBins < 2) throw new Error(`mel filter bank: ${frequencyBins} frequency bins`)
  if (minFrequency > maxFrequency) {
    throw new Error(
      `mel filter bank: min_frequency ${minFrequency} > max_frequency ${maxFrequency}`,
    )
  }
  const corners = linspace(hertzToMel(minFrequency), hertzToMel(maxFrequency), melBins + 2).map(
    melToHertz,
  )
  const binHz = linspace(0, Math.floor(sampleRate / 2), frequencyBins)
  const filters: MelFilter[] = []
  for (let m = 0; m < melBins; m++) {
    const [left, centre, right] = [corners[m]!, corners[m + 1]!, corners[m + 2]!]
    const weight = (k: number) => {
      const f = binHz[k]!
      return Math.max(0, Math.min((f - left) / (centre - left), (right - f) / (right - centre)))
    }
    let start = 0
    while (start < frequencyBins && weight(start) === 0) start++
    let end = frequencyBins
    while (end > start && weight(end - 1) === 0) end--
    filters.push({
      start,
      weights: Float64Array.from({ length: end - start }, (_, i) => weight(start + i)),
    })
  }
  return filters
}
