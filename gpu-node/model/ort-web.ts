/**
 * @module
 * onnxruntime-web in Node: the pure-wasm fallback (no native binding needed), or WebGPU through the `webgpu`
 * npm package (Dawn; a dev dependency, so an install with `--omit=dev` lacks it), which needs Vulkan like
 * the native WebGPU provider (toolchain.md §7). Slower than onnxruntime-node on CPU; kept for portability.
 */
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type * as OrtWeb from 'onnxruntime-web'
import type { SessionFile } from './model-folder.ts'
import { createTurns } from './in-turn.ts'
import { keepOutputsOnDevice, sessionLoadError } from './ort-runtime.ts'
import type {
  DeviceName,
  OrtRuntime,
  RuntimeOptions,
  TensorData,
  TensorType,
} from './ort-runtime.ts'

export async function openWebRuntime(options: RuntimeOptions): Promise<OrtRuntime> {
  const device = options.device ?? 'wasm'
  if (device !== 'wasm' && device !== 'webgpu') {
    throw new Error(`onnxruntime-web has no "${device}" device; use wasm or webgpu.`)
  }
  if (device === 'webgpu') await installDawn()
  const ort = await loadOrtWeb(device)
  // One wasm thread: on small boxes two threads were slower than one (toolchain.md §7).
  ort.env.wasm.numThreads = options.threads || 1
  const executionProvider = device === 'webgpu' ? 'webgpu' : 'wasm'
  const sessionOptions = (keepOnDevice: string[]): OrtWeb.InferenceSession.SessionOptions => ({
    executionProviders: [executionProvider],
    graphOptimizationLevel: 'all',
    ...keepOutputsOnDevice(device, keepOnDevice),
  })
  // Its WebGPU backend creates one session at a time ("another WebGPU EP inference session is being
  // created" otherwise), and callers load sessions concurrently: queue them.
  const oneAtATime = createTurns()
  return {
    name: 'web',
    device: device as DeviceName,
    async createSession(file: SessionFile, keepOnDevice: string[] = [], graph?: Uint8Array) {
      try {
        // The wasm runtime cannot open files itself: hand it the graph and every external data chunk.
        const folder = dirname(file.path)
        const externalData = await Promise.all(
          file.externalData.map(async (name) => ({
            path: name,
            data: new Uint8Array(await readFile(join(folder, name))),
          })),
        )
        const model = graph ?? new Uint8Array(await readFile(file.path))
        return await oneAtATime(() =>
          ort.InferenceSession.create(model, { ...sessionOptions(keepOnDevice), externalData }),
        )
      } catch (error) {
        throw sessionLoadError(file, error)
      }
    },
    async createSessionFromBytes(model: Uint8Array, keepOnDevice: string[] = []) {
      return oneAtATime(() => ort.InferenceSession.create(model, sessionOptions(keepOnDevice)))
    },
    tensor(type: TensorType, data: TensorData, dims: readonly number[]) {
      return new ort.Tensor(type, data, dims)
    },
  } as OrtRuntime
}

/**
 * The package's Node entry point registers the wasm backend only ("[webgpu] backend not found"); WebGPU is
 * in its `webgpu` build. Tensors must come from the build that runs the sessions, hence one module per
 * runtime.
 */
async function loadOrtWeb(device: 'wasm' | 'webgpu'): Promise<typeof OrtWeb> {
  return device === 'webgpu' ? import('onnxruntime-web/webgpu') : import('onnxruntime-web')
}

/** onnxruntime-web finds WebGPU through `navigator.gpu`; in Node the `webgpu` package provides it. */
async function installDawn(): Promise<void> {
  const specifier = 'webgpu'
  let dawn: { create(flags: string[]): unknown; globals: Record<string, unknown> }
  try {
    dawn = (await import(specifier)) as typeof dawn
  } catch {
    throw new Error(
      'GEMMA_RUNTIME=web with GEMMA_DEVICE=webgpu needs the `webgpu` npm package (Dawn): run `npm install webgpu`. It also needs Vulkan (libvulkan1 and the GPU driver).',
    )
  }
  Object.assign(globalThis, dawn.globals)
  Object.defineProperty(globalThis, 'navigator', {
    value: { gpu: dawn.create([]) },
    configurable: true,
  })
}
