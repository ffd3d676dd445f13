/**
 * @module
 * The one seam between the model runner and an ONNX Runtime package. Two runtimes implement it:
 * onnxruntime-node (native; cpu, cuda and webgpu execution providers) and onnxruntime-web (wasm, or webgpu
 * through the `webgpu` Dawn package). Both speak onnxruntime-common's types, but each builds tensors with
 * its own `Tensor` class, so tensors are always created through `runtime.tensor()`.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node'
import { basename, dirname } from 'node:path'
import { ModelFolderError } from './model-folder.ts'
import type { SessionFile } from './model-folder.ts'

export type RuntimeName = 'node' | 'web'
export type DeviceName = 'cpu' | 'cuda' | 'webgpu' | 'wasm'
export type { InferenceSession, Tensor }

/** Tensor element types the Gemma 3n contract uses. */
export type TensorType = 'float32' | 'float16' | 'int64' | 'bool'
export type TensorData = Float32Array | Uint16Array | BigInt64Array | Uint8Array

export interface OrtRuntime {
  readonly name: RuntimeName
  readonly device: DeviceName
  /**
   * Loads one session file with its external data; outputs named in `keepOnDevice` stay on the device.
   * `graph`: the `.onnx` bytes to load instead of the file's own (a rewritten graph whose external data
   * are still the file's).
   */
  createSession(
    file: SessionFile,
    keepOnDevice?: string[],
    graph?: Uint8Array,
  ): Promise<InferenceSession>
  /** Loads a small in-memory graph (no external data) on the same device. */
  createSessionFromBytes(model: Uint8Array, keepOnDevice?: string[]): Promise<InferenceSession>
  tensor(type: TensorType, data: TensorData, dims: readonly number[]): Tensor
}

export interface RuntimeOptions {
  runtime: RuntimeName
  /** `undefined`: the best device this runtime can open here. */
  device?: DeviceName
  /** Intra-op threads (`0`: the runtime's default, one per core). */
  threads?: number
}

/** Opens the configured runtime. Imports lazily so a node never loads the runtime it does not use. */
export async function openRuntime(options: RuntimeOptions): Promise<OrtRuntime> {
  if (options.runtime === 'web') {
    const { openWebRuntime } = await import('./ort-web.ts')
    return openWebRuntime(options)
  }
  const { openNodeRuntime } = await import('./ort-node.ts')
  return openNodeRuntime(options)
}

/** Whether `device` runs on the host's CPU (onnxruntime-node's cpu, onnxruntime-web's wasm). */
export function isCpuDevice(device: DeviceName): boolean {
  return device === 'cpu' || device === 'wasm'
}

/** Whether sessions on `device` hand outputs back as device buffers (see `keepOutputsOnDevice`). */
export function keepsOutputsOnDevice(device: DeviceName): boolean {
  return device === 'webgpu'
}

/**
 * Session options that keep the named outputs on the GPU. Only WebGPU can hand outputs back as device
 * buffers; cpu, cuda and wasm copy to the host regardless, so they get nothing.
 */
export function keepOutputsOnDevice(device: DeviceName, keepOnDevice: string[]) {
  if (!keepsOutputsOnDevice(device) || keepOnDevice.length === 0) return {}
  return {
    preferredOutputLocation: Object.fromEntries(
      keepOnDevice.map((name) => [name, 'gpu-buffer' as const]),
    ),
  }
}

/**
 * A session file onnxruntime would not load, said in the folder's terms: which file, onnxruntime's own
 * reason, and the likely cause (a missing or cut `.onnx_data`, after an interrupted copy, is the usual one).
 * A `ModelFolderError`, so the node prints it as a reason not to start instead of a stack.
 */
export function sessionLoadError(file: SessionFile, cause: unknown): ModelFolderError {
  const name = `${basename(dirname(file.path))}/${basename(file.path)}`
  const data = file.externalData.length > 0 ? ` or its ${file.externalData.join(', ')}` : ''
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new ModelFolderError(
    `onnxruntime cannot load ${name}: ${reason}\n` +
      `If the file${data} is missing, incomplete or damaged, fetch the folder again ` +
      '(`npm run model:fetch` resumes and checks every hash).',
    { cause },
  )
}
