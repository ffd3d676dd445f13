/**
 * @module
 * Values the globalSetup (Node) provides to the worker project: vitest.config.ts reads `fakeNodePort` into
 * the `GPU_NODES` binding; tests use `deadNodePort` (a port nothing listens on) to reach no node at all.
 */
import type {} from 'vitest'

declare module 'vitest' {
  interface ProvidedContext {
    fakeNodePort: number
    /** A second fake node, for routing across nodes (not in the default GPU_NODES). */
    secondNodePort: number
    deadNodePort: number
  }
}
