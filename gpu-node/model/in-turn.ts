/**
 * @module
 * Runs async tasks one at a time, in the order they were handed over, whatever their callers await: the
 * runner's calls (ModelRunner), and onnxruntime-web's WebGPU session creation, which refuses a second one
 * while the first is under way.
 */

/**
 * A queue of one: each task starts when the previous one has settled; a failed task fails only its caller.
 * @example
 * const inTurn = createTurns()
 * const [a, b] = await Promise.all([inTurn(() => load('a')), inTurn(() => load('b'))]) // b after a
 */
export function createTurns(): <T>(task: () => Promise<T>) => Promise<T> {
  let last: Promise<unknown> = Promise.resolve()
  return <T>(task: () => Promise<T>): Promise<T> => {
    const result = last.then(task)
    last = result.catch(() => undefined)
    return result
  }
}
