/**
 * @module
 * Encoded image bytes (JPEG, PNG, WebP, GIF first frame, ...) -> `pixel_values` [3, H, W] float32, per the
 * folder's preprocessor_config.json (gemma3n-contract.md §6).
 *
 * Decoding and resizing use sharp (libvips), the library transformers.js itself uses in Node, and the same
 * sequence of operations as its `RawImage` + `SiglipImageProcessor` (transformers.js 4.3.1,
 * src/utils/image.js and src/image_processors_utils.js), so the output equals the reference bit for bit:
 * 1. decode with EXIF auto-orientation (`rotate()`), raw 8-bit; if libvips changed the channel count
 *    (e.g. CMYK -> sRGB), convert back to the source's count, as `RawImage` does;
 * 2. `do_convert_rgb`: 1 -> 3 channels by copying, 4 -> 3 by dropping alpha (no compositing on white,
 *    unlike Python transformers' `convert_to_rgb`);
 * 3. resize to exactly `size.width` x `size.height`, no aspect preservation, with an affine transform and
 *    the config's interpolator (bilinear for Gemma 3n): what transformers.js does to match Pillow;
 * 4. multiply by `rescale_factor`, then `(x - mean) / std` if `do_normalize`; HWC -> CHW.
 */
import sharp from 'sharp'
import type { JsonObject } from '../text/model-files.ts'
import { MediaInputError } from './media-input-error.ts'
import { toChannels } from './pixel-channels.ts'
import type { RawPixels } from './pixel-channels.ts'

/** Pillow resample codes as transformers.js maps them (`box` and `hamming` fall back to bilinear). */
const RESAMPLE: Record<number, 'nearest' | 'bilinear' | 'bicubic' | 'lanczos'> = {
  0: 'nearest',
  1: 'lanczos',
  2: 'bilinear',
  3: 'bicubic',
  4: 'bilinear',
  5: 'bilinear',
}

/**
 * The formats the edge forwards. libvips reads more (SVG, TIFF, PDF, ...), and some of those loaders are
 * more attack surface than a node needs.
 */
export const ACCEPTED_FORMATS: ReadonlySet<string> = new Set(['jpeg', 'png', 'webp', 'gif'])

/**
 * Decoded pixels above this are refused before decoding (sharp reads the header first). The edge already
 * downscales to the model size; this guards a node that is called directly against decompression bombs.
 */
export const MAX_INPUT_PIXELS = 100_000_000

/** The image half of preprocessor_config.json, with transformers.js's defaults. */
export interface ImagePreprocessConfig {
  width: number
  height: number
  resample: 'nearest' | 'bilinear' | 'bicubic' | 'lanczos'
  doResize: boolean
  doRescale: boolean
  rescaleFactor: number
  doNormalize: boolean
  /** Per channel, RGB. */
  mean: [number, number, number]
  std: [number, number, number]
  doConvertRgb: boolean
}

/** `pixel_values` of one image. */
export interface PixelValues {
  /** [3, height, width] */
  data: Float32Array
  height: number
  width: number
}

/**
 * Reads the image fields of a parsed preprocessor_config.json. Only `size: {height, width}` (SigLIP's
 * form) is accepted: the vision encoder takes one fixed size.
 * @example const config = imagePreprocessConfig(JSON.parse(text))
 */
export function imagePreprocessConfig(json: JsonObject): ImagePreprocessConfig {
  const size = json.size as { height?: unknown; width?: unknown } | undefined
  const height = size?.height
  const width = size?.width
  if (!Number.isInteger(height) || !Number.isInteger(width)) {
    throw new Error(
      `preprocessor_config.json: "size" must be {"height": N, "width": N}; got ${JSON.stringify(json.size)}`,
    )
  }
  const resampleCode = (json.resample as number | undefined) ?? 2
  const resample = RESAMPLE[resampleCode]
  if (!resample) throw new Error(`preprocessor_config.json: unknown "resample" ${resampleCode}`)
  return {
    width: width as number,
    height: height as number,
    resample,
    doResize: (json.do_resize as boolean | undefined) ?? true,
    doRescale: (json.do_rescale as boolean | undefined) ?? true,
    rescaleFactor: (json.rescale_factor as number | undefined) ?? 1 / 255,
    doNormalize: (json.do_normalize as boolean | undefined) ?? false,
    mean: perChannel(json.image_mean ?? json.mean, 'image_mean'),
    std: perChannel(json.image_std ?? json.std, 'image_std'),
    doConvertRgb: (json.do_convert_rgb as boolean | undefined) ?? true,
  }
}

function perChannel(value: unknown, key: string): [number, number, number] {
  if (value === undefined || value === null) return [0, 0, 0]
  const list = Array.isArray(value) ? value : [value, value, value]
  if (list.length !== 3 || !list.every((v) => typeof v === 'number')) {
    throw new Error(`preprocessor_config.json: "${key}" must be a number or 3 numbers`)
  }
  return list as [number, number, number]
}

/**
 * Decodes, orients, converts, resizes and rescales one image.
 * @throws MediaInputError when the bytes are not a JPEG, PNG, WebP or GIF libvips can decode, or the image
 *   has more than `maxPixels` pixels
 * @example const { data } = await preprocessImage(jpegBytes, config) // data: [3, 768, 768]
 */
export async function preprocessImage(
  bytes: Uint8Array,
  config: ImagePreprocessConfig,
  maxPixels = MAX_INPUT_PIXELS,
): Promise<PixelValues> {
  let image = await decodeImage(bytes, maxPixels)
  if (config.doConvertRgb) image = toChannels(image, 3)
  if (image.channels !== 3) {
    throw new MediaInputError(
      'image',
      `The image has ${image.channels} channels and preprocessor_config.json sets do_convert_rgb false.`,
    )
  }
  if (config.doResize) image = await resize(image, config)
  return toPixelValues(image, config)
}

/** sharp decode + EXIF orientation, as transformers.js's Node `loadImageFunction`. */
async function decodeImage(bytes: Uint8Array, maxPixels: number): Promise<RawPixels> {
  try {
    const img = sharp(bytes, { limitInputPixels: maxPixels })
    const { format, channels } = await img.metadata()
    if (!ACCEPTED_FORMATS.has(format)) {
      throw new Error(`${format} is not accepted (JPEG, PNG, WebP or GIF)`)
    }
    const { data, info } = await img.rotate().raw().toBuffer({ resolveWithObject: true })
    const decoded: RawPixels = {
      data,
      width: info.width,
      height: info.height,
      channels: info.channels,
    }
    return channels !== undefined && channels !== info.channels
      ? toChannels(decoded, channels)
      : decoded
  } catch (error) {
    // sharp's own words ("Input buffer has corrupt header: …"), without its trailing colon; the HTTP layer
    // names the part ("The image in messages[0].content[1] cannot be used: …").
    const reason = (error as Error).message.replace(/:\s*$/, '')
    throw new MediaInputError('image', `it does not decode (${reason})`, { cause: error })
  }
}

/** Exact resize to the configured size (transformers.js `RawImage.resize` on sharp). */
async function resize(image: RawPixels, config: ImagePreprocessConfig): Promise<RawPixels> {
  const { width, height } = config
  if (image.width === width && image.height === height) return image
  const raw = {
    width: image.width,
    height: image.height,
    channels: image.channels as 1 | 2 | 3 | 4,
  }
  let img = sharp(image.data, { raw })
  img =
    config.resample === 'lanczos'
      ? img.resize({ width, height, fit: 'fill', kernel: 'lanczos3' })
      : img.affine([width / image.width, 0, 0, height / image.height], {
          interpolator: config.resample,
        })
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true })
  if (info.width !== width || info.height !== height || info.channels !== image.channels) {
    throw new Error(
      `Resize gave ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x${image.channels}`,
    )
  }
  return { data, width, height, channels: info.channels }
}

/** HWC uint8 -> CHW float32, rescaled and normalized with transformers.js's float32 rounding. */
function toPixelValues(image: RawPixels, config: ImagePreprocessConfig): PixelValues {
  const plane = image.width * image.height
  const out = new Float32Array(3 * plane) // [3, H, W]
  const scale = config.doRescale ? config.rescaleFactor : 1
  for (let c = 0; c < 3; c++) {
    const mean = config.mean[c]!
    const std = config.std[c]!
    const base = c * plane
    for (let i = 0; i < plane; i++) {
      // The reference stores the rescaled value as float32 before normalizing: keep that rounding.
      const v = Math.fround(scale * image.data[i * 3 + c]!)
      out[base + i] = config.doNormalize ? (v - mean) / std : v
    }
  }
  return { data: out, height: image.height, width: image.width }
}
