/**
 * @module
 * Every ONNX call goes through `sessionRun()`: on failure it throws a `ModelError` that lists each input's
 * name, dtype and dims, which is what one needs to debug a shape mismatch (transformers.js models/session.js
 * does the same).
 */
import type { InferenceSession, Tensor } from './ort-runtime.ts'

export class ModelError extends Error {
  override name = 'ModelError'
}

export async function sessionRun(
  label: string,
  session: InferenceSession,
  feeds: Record<string, Tensor>,
  /** Outputs to fetch; all of them when omitted. */
  outputs?: readonly string[],
): Promise<Record<string, Tensor>> {
  try {
    const out = outputs ? await session.run(feeds, outputs) : await session.run(feeds)
    return out as Record<string, Tensor>
  } catch (error) {
    const inputs = Object.entries(feeds)
      .map(([name, t]) => `${name}: ${t.type}[${t.dims.join(', ')}]`)
      .join('; ')
    throw new ModelError(`${label} failed: ${(error as Error).message} (inputs: ${inputs})`, {
      cause: error,
    })
  }
}
