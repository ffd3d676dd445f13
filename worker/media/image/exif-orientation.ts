/**
 * @module
 * The EXIF orientation tag (0x0112) from a JPEG APP1 payload: phones store photos sensor-side up and
 * record the rotation here, so without it a portrait photo reaches the model sideways.
 * Layout: EXIF 2.32 §4.5.2 (TIFF header, IFD0 entries of 12 bytes).
 */

const ORIENTATION_TAG = 0x0112

/** Orientation 1–8, or `null` when the segment is not Exif or has no valid tag. */
export function readExifOrientation(app1: Uint8Array): number | null {
  if (app1.length < 14 || String.fromCharCode(...app1.subarray(0, 6)) !== 'Exif\0\0') return null
  const tiff = app1.subarray(6)
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength)
  const order = String.fromCharCode(tiff[0] as number, tiff[1] as number)
  if (order !== 'II' && order !== 'MM') return null
  const little = order === 'II'
  const ifd0 = view.getUint32(4, little)
  if (ifd0 + 2 > tiff.length) return null
  const entries = view.getUint16(ifd0, little)
  for (let i = 0; i < entries; i++) {
    const entry = ifd0 + 2 + i * 12
    if (entry + 12 > tiff.length) return null
    if (view.getUint16(entry, little) !== ORIENTATION_TAG) continue
    const value = view.getUint16(entry + 8, little)
    return value >= 1 && value <= 8 ? value : null
  }
  return null
}
