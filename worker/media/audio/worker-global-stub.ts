/**
 * @module
 * mpg123-decoder imports @eshaz/web-worker for its optional Web Worker mode, and that module's browser
 * build runs `module.exports = Worker` when it loads. workerd has no `Worker` global, so the import alone
 * would throw. The edge never uses that mode; this stub, imported first, lets the module load and throws
 * only if something tries to start a worker.
 */
if (!('Worker' in globalThis)) {
  Object.defineProperty(globalThis, 'Worker', {
    configurable: true,
    value: class WorkerUnavailable {
      constructor() {
        throw new Error('Web Workers are not available in workerd')
      }
    },
  })
}
