/**
 * @module
 * onnxruntime-node: the native runtime for GPU boxes and plain CPUs. Execution providers: `cuda` (needs the
 * CUDA 12 provider libraries next to the binding, see README), `webgpu` (Dawn over Vulkan) and `cpu`.
 * With webgpu, outputs listed in `keepOnDevice` come back as `gpu-buffer` tensors so the KV cache never
 * crosses PCIe (toolchain.md §5); cpu and cuda ignore it.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { followDataLinks } from './external-data-links.ts'
import type { SessionFile } from './model-folder.ts'
import { keepOutputsOnDevice, sessionLoadError } from './ort-runtime.ts'
import type {
  DeviceName,
  OrtRuntime,
  RuntimeOptions,
  TensorData,
  TensorType,
} from './ort-runtime.ts'

const NODE_DEVICES: DeviceName[] = ['cpu', 'cuda', 'webgpu']

export async function openNodeRuntime(runtimeOptions: RuntimeOptions): Promise<OrtRuntime> {
  if (runtimeOptions.device && !NODE_DEVICES.includes(runtimeOptions.device)) {
    throw new Error(
      `onnxruntime-node has no "${runtimeOptions.device}" device; use one of ${NODE_DEVICES.join(', ')}, or GEMMA_RUNTIME=web for wasm.`,
    )
  }
  const device = runtimeOptions.device ?? bestDevice()
  const threads = runtimeOptions.threads
  const options = (keepOnDevice: string[]): ort.InferenceSession.SessionOptions => ({
    executionProviders: [device],
    graphOptimizationLevel: 'all',
    ...(threads ? { intraOpNumThreads: threads } : {}),
    ...keepOutputsOnDevice(device, keepOnDevice),
  })
  return {
    name: 'node',
    device,
    async createSession(file: SessionFile, keepOnDevice: string[] = [], graph?: Uint8Array) {
      // A path load resolves external data (`location` in the graph) relative to the .onnx file; a load
      // from bytes is told the folder, where the data files really are (external-data-links.ts).
      try {
        if (!graph) return await ort.InferenceSession.create(file.path, options(keepOnDevice))
        const { bytes, folder } = await followDataLinks(
          graph,
          dirname(file.path),
          file.externalData,
        )
        return await ort.InferenceSession.create(bytes, {
          ...options(keepOnDevice),
          extra: { session: { model_external_initializers_file_folder_path: folder } },
        })
      } catch (error) {
        throw sessionLoadError(file, error)
      }
    },
    async createSessionFromBytes(model: Uint8Array, keepOnDevice: string[] = []) {
      return ort.InferenceSession.create(model, options(keepOnDevice))
    },
    tensor(type: TensorType, data: TensorData, dims: readonly number[]) {
      return new ort.Tensor(type, data, dims)
    },
  }
}

/**
 * CUDA when its provider library sits next to the native binding (the npm install with
 * ONNXRUNTIME_NODE_INSTALL=cuda12, or vendored; see README), else CPU. WebGPU is never picked implicitly:
 * Dawn needs a Vulkan driver and a real adapter, which only the operator can vouch for (GEMMA_DEVICE=webgpu).
 */
function bestDevice(): DeviceName {
  const binding = dirname(createRequire(import.meta.url).resolve('onnxruntime-node'))
  const providers = join(binding, '..', 'bin', 'napi-v6', process.platform, process.arch)
  return existsSync(join(providers, 'libonnxruntime_providers_cuda.so')) ? 'cuda' : 'cpu'
}
