/**
 * @module
 * Band-limited resampling to 16 kHz: Kaiser-windowed sinc interpolation (J. O. Smith, "Digital Audio
 * Resampling", https://ccrma.stanford.edu/~jos/resample/), the method behind libsamplerate and SoX. The
 * low-pass cut-off sits below the lower of the two Nyquist frequencies, so content above 8 kHz is removed
 * instead of folding back as aliases. For a rational ratio L/M (44.1 kHz -> 16 kHz is 160/441) the
 * kernel has exactly L phases, precomputed once per call.
 * Written here rather than taken from a package: the SpeexDSP and libsamplerate WASM builds on npm load
 * their modules in ways workerd forbids (run-time compilation, `import("module")`).
 */

/** Zero crossings of the sinc on each side: the filter's length, against its transition width. */
const ZERO_CROSSINGS = 16
/** Kaiser beta: about 90 dB stop-band attenuation. */
const KAISER_BETA = 8.6
/** Cut-off as a fraction of the lower Nyquist frequency, leaving room for the transition band. */
const ROLLOFF = 0.94
/** Above this many phases (odd rates), phases are quantised to this grid instead. */
const MAX_PHASES = 1024

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b)
}

/** Zeroth-order modified Bessel function of the first kind (power series). */
function besselI0(x: number): number {
  let sum = 1
  let term = 1
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2
    sum += term
    if (term < sum * 1e-12) break
  }
  return sum
}

/**
 * Resamples mono `samples` from `fromRate` to `toRate`: round(n x toRate / fromRate) samples, aligned
 * with the input (no filter delay).
 * @example
 * resampleMono(samples44k, 44_100, 16_000)
 */
export function resampleMono(
  samples: Float32Array,
  fromRate: number,
  toRate: number,
): Float32Array {
  if (fromRate === toRate) return samples
  const g = gcd(fromRate, toRate)
  const up = toRate / g // L
  const down = fromRate / g // M
  const phases = Math.min(up, MAX_PHASES)
  const cutoff = ROLLOFF * Math.min(1, toRate / fromRate) // in cycles per input sample x 2
  const half = Math.ceil(ZERO_CROSSINGS / cutoff)
  const taps = 2 * half
  const i0Beta = besselI0(KAISER_BETA)
  // kernel[phase][k]: weight of input (base - half + 1 + k) for an output at base + phase / phases.
  const kernel = new Float32Array(phases * taps)
  for (let p = 0; p < phases; p++) {
    let sum = 0
    for (let k = 0; k < taps; k++) {
      const d = k - half + 1 - p / phases
      const window =
        Math.abs(d) >= half ? 0 : besselI0(KAISER_BETA * Math.sqrt(1 - (d / half) ** 2)) / i0Beta
      const x = Math.PI * cutoff * d
      const w = (x === 0 ? 1 : Math.sin(x) / x) * window
      kernel[p * taps + k] = w
      sum += w
    }
    for (let k = 0; k < taps; k++) kernel[p * taps + k]! /= sum
  }
  const length = Math.round((samples.length * toRate) / fromRate)
  const out = new Float32Array(length)
  for (let n = 0; n < length; n++) {
    const position = n * down // in units of 1/up input samples
    let base = Math.floor(position / up)
    let phase = phases === up ? position % up : Math.round(((position % up) / up) * phases)
    if (phase === phases) {
      base += 1 // rounded up to the next input sample
      phase = 0
    }
    const first = base - half + 1
    const row = phase * taps
    let acc = 0
    const kStart = Math.max(0, -first)
    const kEnd = Math.min(taps, samples.length - first)
    for (let k = kStart; k < kEnd; k++) acc += samples[first + k]! * kernel[row + k]!
    out[n] = acc
  }
  return out
}
