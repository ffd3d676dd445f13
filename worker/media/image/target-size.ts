/**
 * @module
 * The size an image is forwarded at: aspect kept, longest side capped by `detail`, never enlarged (the
 * node's processor upsamples to 768x768 anyway; enlarging here would only add bytes).
 */
import { MEDIA_LIMITS } from '../media-limits.ts'

export type ImageDetail = 'auto' | 'low' | 'high'

export interface Size {
  width: number
  height: number
}

/** EXIF orientations 5–8 transpose the stored image. */
export function orientedSize(width: number, height: number, orientation: number): Size {
  return orientation >= 5 ? { width: height, height: width } : { width, height }
}

/** Longest side forwarded for a `detail` value. */
export function maxSideFor(detail: ImageDetail): number {
  return detail === 'low' ? MEDIA_LIMITS.lowDetailSide : MEDIA_LIMITS.highDetailSide
}

/**
 * Output size for an (already oriented) input size.
 * @example
 * targetSize({ width: 4000, height: 3000 }, 768) // { width: 768, height: 576 }
 */
export function targetSize(size: Size, maxSide: number): Size {
  const scale = Math.min(1, maxSide / Math.max(size.width, size.height))
  return {
    width: Math.max(1, Math.round(size.width * scale)),
    height: Math.max(1, Math.round(size.height * scale)),
  }
}
