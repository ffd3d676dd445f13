/**
 * @module
 * Runs in Node before the worker project's tests: starts two scripted fake GPU nodes and provides their
 * ports (and a port nothing listens on) to vitest.config.ts and the tests. The returned teardown stops the node.
 */
import type { TestProject } from 'vitest/node'
import { findDeadPort, startFakeGpuNode } from './fake-gpu-node.ts'
import './support/provided-context.ts'

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const node = await startFakeGpuNode()
  const second = await startFakeGpuNode()
  project.provide('fakeNodePort', node.port)
  project.provide('secondNodePort', second.port)
  project.provide('deadNodePort', await findDeadPort())
  return async () => {
    await Promise.all([node.close(), second.close()])
  }
}
