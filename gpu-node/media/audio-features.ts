/**
 * @module
 * 16 kHz mono PCM -> `input_features` [F, 128] log-mel + `input_features_mask` [F], the Gemma 3n audio
 * feature extractor (gemma3n-contract.md §7), with parameters from preprocessor_config.json.
 *
 * It follows transformers.js 4.3.1 (models/gemma3n/feature_extraction_gemma3n.js + utils/audio.js
 * `spectrogram`) where it differs from Python transformers: frames of `frame_length` samples (Python
 * unfolds `frame_length + 1`; the frame count can differ by one), and an all-true mask. Steps: truncate to
 * 30 s; pad with `padding_value` to a multiple of 128 samples; per frame (no centring) HTK pre-emphasis,
 * periodic Hann window, zero-padded rFFT of `fft_length` (fft.js, the radix-4 FFT that transformers.js's
 * own FFT was adapted from), magnitude, mel filters, `log(max(mel, mel_floor))`.
 * `input_scale_factor` and `per_bin_mean` / `per_bin_stddev` are applied as Python does (transformers.js
 * ignores them; Gemma 3n's values are the identity). `dither` is not applied: random noise would make
 * features, and the content-hash cache, non-deterministic.
 */
import FFT from 'fft.js'
import type { JsonObject } from '../text/model-files.ts'
import { MediaInputError } from './media-input-error.ts'
import { melFilterBank } from './mel-filter-bank.ts'
import type { MelFilter } from './mel-filter-bank.ts'

/** Python and transformers.js defaults of `__call__`: 30 s at 16 kHz; pad to a multiple of 128. */
const MAX_SAMPLES = 480_000
const PAD_TO_MULTIPLE_OF = 128

/** The audio half of preprocessor_config.json. */
export interface AudioFeatureConfig {
  sampleRate: number
  melBins: number
  frameLength: number
  hopLength: number
  fftLength: number
  minFrequency: number
  maxFrequency: number
  preemphasis: number
  melFloor: number
  paddingValue: number
  inputScaleFactor: number
  perBinMean: Float64Array | null
  perBinStddev: Float64Array | null
}

/** Features of one clip. */
export interface AudioFeatures {
  /** [frames, melBins] */
  data: Float32Array
  /** [frames], 1 = valid frame */
  mask: Uint8Array
  frames: number
  melBins: number
}

/**
 * Reads the feature-extractor fields of a parsed preprocessor_config.json (Python's defaults when absent;
 * `frame_length` / `hop_length` / `fft_length` derived from the `_ms` fields and `fft_overdrive` then).
 * @example const config = audioFeatureConfig(JSON.parse(text))
 */
export function audioFeatureConfig(json: JsonObject): AudioFeatureConfig {
  const num = (key: string, fallback: number): number => {
    const value = json[key] ?? fallback
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new Error(`preprocessor_config.json: "${key}" must be a number`)
    }
    return value
  }
  const sampleRate = num('sampling_rate', 16_000)
  const frameLength = num(
    'frame_length',
    Math.round((sampleRate * num('frame_length_ms', 32)) / 1000),
  )
  const overdrive = (json.fft_overdrive as boolean | undefined) ?? true
  const fftLength = num('fft_length', 2 ** Math.ceil(Math.log2(frameLength)) * (overdrive ? 2 : 1))
  if (json.preemphasis_htk_flavor === false) {
    throw new Error('preprocessor_config.json: preemphasis_htk_flavor false is not supported')
  }
  const melBins = num('feature_size', 128)
  return {
    sampleRate,
    melBins,
    frameLength,
    hopLength: num('hop_length', Math.round((sampleRate * num('hop_length_ms', 10)) / 1000)),
    fftLength,
    minFrequency: num('min_frequency', 125),
    maxFrequency: num('max_frequency', 7600),
    preemphasis: num('preemphasis', 0.97),
    melFloor: num('mel_floor', 1e-5),
    paddingValue: num('padding_value', 0),
    inputScaleFactor: num('input_scale_factor', 1),
    perBinMean: perBin(json.per_bin_mean, melBins, 'per_bin_mean'),
    perBinStddev: perBin(json.per_bin_stddev, melBins, 'per_bin_stddev'),
  }
}

function perBin(value: unknown, melBins: number, key: string): Float64Array | null {
  if (value === undefined || value === null) return null
  const flat = Array.isArray(value) ? value.flat(2) : []
  if (flat.length !== melBins || !flat.every((v) => typeof v === 'number')) {
    throw new Error(`preprocessor_config.json: "${key}" must hold ${melBins} numbers`)
  }
  return Float64Array.from(flat as number[])
}

/** Log-mel feature extractor: build once per model (window, filters and FFT tables), use for every clip. */
export class LogMelExtractor {
  readonly config: AudioFeatureConfig
  readonly #filters: MelFilter[]
  readonly #window: Float64Array
  readonly #fft: FFT

  constructor(config: AudioFeatureConfig) {
    const { frameLength, fftLength, hopLength } = config
    if (frameLength > fftLength || hopLength <= 0 || (fftLength & (fftLength - 1)) !== 0) {
      throw new Error(
        `Unusable audio framing: frame ${frameLength}, hop ${hopLength}, fft ${fftLength} (a power of two >= frame)`,
      )
    }
    this.config = config
    this.#filters = melFilterBank({
      frequencyBins: fftLength / 2 + 1,
      melBins: config.melBins,
      minFrequency: config.minFrequency,
      maxFrequency: config.maxFrequency,
      sampleRate: config.sampleRate,
    })
    // Periodic Hann: numpy.hanning(N + 1)[:N].
    this.#window = Float64Array.from(
      { length: frameLength },
      (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / frameLength),
    )
    this.#fft = new FFT(fftLength)
  }

  /**
   * Features of one clip at the configured rate (longer than 30 s: truncated).
   * @throws MediaInputError when the clip is shorter than one frame (32 ms for Gemma 3n)
   * @example const { data, frames } = extractor.extract(pcm) // data: [frames, 128]
   */
  extract(pcm: Float32Array): AudioFeatures {
    const wave = this.#prepare(pcm)
    const { frameLength, hopLength, melBins } = this.config
    const frames = Math.floor((wave.length - frameLength) / hopLength) + 1
    const data = new Float32Array(frames * melBins) // [frames, melBins]
    const input = new Float64Array(this.config.fftLength) // tail beyond frameLength stays zero
    const spectrum = new Float64Array(2 * this.config.fftLength) // interleaved re, im
    const magnitude = new Float64Array(this.config.fftLength / 2 + 1)
    for (let t = 0; t < frames; t++) {
      this.#frameSpectrum(wave, t * hopLength, input, spectrum, magnitude)
      this.#logMel(magnitude, data, t * melBins)
    }
    return { data, mask: new Uint8Array(frames).fill(1), frames, melBins }
  }

  /** Scaled, truncated and padded waveform (float64, as the references compute in). */
  #prepare(pcm: Float32Array): Float64Array {
    const { inputScaleFactor, paddingValue, frameLength, sampleRate } = this.config
    if (pcm.length === 0) throw new MediaInputError('audio', 'The audio clip is empty.')
    const used = Math.min(pcm.length, MAX_SAMPLES)
    const padded = Math.ceil(used / PAD_TO_MULTIPLE_OF) * PAD_TO_MULTIPLE_OF
    if (padded < frameLength) {
      // Padding to a multiple of 128 makes a frame of a little less: say the true minimum.
      const least = (Math.ceil(frameLength / PAD_TO_MULTIPLE_OF) - 1) * PAD_TO_MULTIPLE_OF + 1
      const ms = (samples: number) => ((1000 * samples) / sampleRate).toFixed(1)
      throw new MediaInputError(
        'audio',
        `The audio clip is ${ms(pcm.length)} ms long (${pcm.length} samples at ${sampleRate} Hz); at least ${ms(least)} ms (${least} samples) are needed.`,
      )
    }
    const wave = new Float64Array(padded).fill(paddingValue, used)
    for (let i = 0; i < used; i++) wave[i] = pcm[i]! * inputScaleFactor
    return wave
  }

  /** |rFFT| of the frame at `offset`, after HTK pre-emphasis and the window. */
  #frameSpectrum(
    wave: Float64Array,
    offset: number,
    input: Float64Array,
    spectrum: Float64Array,
    magnitude: Float64Array,
  ): void {
    const { frameLength, preemphasis } = this.config
    // HTK flavour: y[0] = x[0] (1 - p), y[j] = x[j] - p x[j - 1], all within the frame.
    input[0] = wave[offset]! * (1 - preemphasis) * this.#window[0]!
    for (let j = 1; j < frameLength; j++) {
      input[j] = (wave[offset + j]! - preemphasis * wave[offset + j - 1]!) * this.#window[j]!
    }
    this.#fft.realTransform(spectrum, input)
    for (let k = 0; k < magnitude.length; k++) {
      const re = spectrum[2 * k]!
      const im = spectrum[2 * k + 1]!
      magnitude[k] = Math.sqrt(re * re + im * im)
    }
  }

  /** Mel filters, floor and log of one frame into `out[at .. at + melBins)`. */
  #logMel(magnitude: Float64Array, out: Float32Array, at: number): void {
    const { melFloor, perBinMean, perBinStddev } = this.config
    for (let m = 0; m < this.#filters.length; m++) {
      const { start, weights } = this.#filters[m]!
      let sum = 0
      for (let k = 0; k < weights.length; k++) sum += weights[k]! * magnitude[start + k]!
      let value = Math.log(Math.max(sum, melFloor))
      if (perBinMean) value -= perBinMean[m]!
      if (perBinStddev) value /= perBinStddev[m]!
      out[at + m] = value
    }
  }
}
