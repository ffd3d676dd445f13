/**
 * @module
 * Whether onnxruntime-node can run on a WebGPU device here. Its WebGPU execution provider is Dawn over
 * Vulkan: a GPU's Vulkan driver, or Mesa's software rasterizer lavapipe, which is enough to run the
 * node's WebGPU code paths (device buffers, the KV graphs) on a machine without a GPU. Dawn rejects
 * Debian 12's own Mesa (22.3); the Mesa 25 of bookworm-backports works, and `.ci/run` installs it.
 */
import * as ort from 'onnxruntime-node'
import { GraphBuilder } from '../../gpu-node/contract-model/onnx-builder.ts'
import { HostCopy } from '../../gpu-node/model/host-copy.ts'
import type { DeviceName, OrtRuntime, Tensor } from '../../gpu-node/model/ort-runtime.ts'

export const WEBGPU_MISSING =
  'no WebGPU adapter (onnxruntime-node needs Vulkan: apt-get install -t bookworm-backports ' +
  'mesa-vulkan-drivers for the software one; .ci/run installs it)'

/** An Identity graph over one float32 tensor of any shape. */
function identityModel(): Uint8Array {
  const g = new GraphBuilder(0)
  const x = g.input('x', 'float32', ['a', 'b', 'c', 'd'])
  g.output(g.op('Identity', [x], {}, 'y'), 'float32', ['a', 'b', 'c', 'd'])
  return g.encode('identity', 'unused.onnx_data').model
}

/** True when a WebGPU session runs and hands its output back as a device buffer. */
export async function webgpuAvailable(): Promise<boolean> {
  try {
    const session = await ort.InferenceSession.create(identityModel(), {
      executionProviders: ['webgpu'],
      preferredOutputLocation: { y: 'gpu-buffer' },
    })
    const { y } = await session.run({
      x: new ort.Tensor('float32', new Float32Array(1), [1, 1, 1, 1]),
    })
    const onDevice = y!.location === 'gpu-buffer'
    y!.dispose()
    await session.release()
    return onDevice
  } catch {
    return false
  }
}

/**
 * The devices a test file runs its cases on: the CPU, and WebGPU where it is available. Without it, says
 * so once (`subject` names what is then tested on the CPU only).
 * @example const DEVICES = await devicesToTest('Batched decoding') // ['cpu', 'webgpu'] on CI
 */
export async function devicesToTest(subject: string): Promise<DeviceName[]> {
  if (await webgpuAvailable()) return ['cpu', 'webgpu']
  console.warn(`${subject} is tested on the CPU only: ${WEBGPU_MISSING}.`)
  return ['cpu']
}

/**
 * Moves tensors between the host and the device through Identity sessions: onnxruntime-node cannot upload
 * or download a `gpu-buffer` tensor from JavaScript (its `download()` is not implemented).
 */
export async function deviceCopier(runtime: OrtRuntime) {
  const [up, down] = await Promise.all([
    runtime.createSessionFromBytes(identityModel(), ['y']),
    HostCopy.create(runtime, 'float32', 4), // the runner's own copier to the host
  ])
  return {
    toDevice: async (tensor: Tensor): Promise<Tensor> => (await up.run({ x: tensor })).y!,
    toHost: async (tensor: Tensor): Promise<Float32Array> =>
      (await down.toHost(tensor)).data as Float32Array,
    release: () => Promise.all([up.release(), down.release()]),
  }
}
