/**
 * @module
 * Taking back a step the runner has not begun. The engine keeps the next step queued behind the running
 * one; a request that arrives meanwhile would join only the step after it, and one cancelled would keep its
 * row in it. Instead the engine withdraws the queued step and sends in its place the step planned again,
 * with the newcomer or without the cancelled sequence (engine.ts).
 *
 * The decision lives in shared memory, one 64-bit cell, because the runner thread begins a queued step the
 * moment it ends the previous one, with no message in between (its calls chain through promises), and
 * because the engine must know at once whether it got the step back. Step calls are numbered from 1 in the
 * order made, the same on both sides. The cell holds the number of the last step the runner has begun (or
 * skipped), or `-n` while step n is withdrawn and not yet reached. Each side changes it only by a
 * compare-and-swap, so the runner begins a step or the engine withdraws it, never both.
 */

export class StepGate {
  /** Shared with the runner thread (structured clone shares it, it is not copied). */
  readonly buffer: SharedArrayBuffer
  readonly #cell: BigInt64Array

  constructor(buffer = new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT)) {
    this.buffer = buffer
    this.#cell = new BigInt64Array(buffer, 0, 1)
  }

  /**
   * Runner side, when step call `n`'s turn comes: whether to run it. `false` when the engine withdrew it;
   * the step is then skipped, and counts as reached.
   */
  begin(n: number): boolean {
    const before = BigInt(n - 1)
    const found = Atomics.compareExchange(this.#cell, 0, before, BigInt(n))
    if (found === before) return true
    if (found !== BigInt(-n)) throw new Error(`internal: step ${n} began after step ${found}`)
    Atomics.store(this.#cell, 0, BigInt(n))
    return false
  }

  /**
   * Engine side: withdraws step call `n` if the runner has begun the step before it and not this one.
   * `true`: the runner will skip it, for certain. `false`: too late (or too early), it runs as sent.
   */
  withdraw(n: number): boolean {
    const before = BigInt(n - 1)
    return Atomics.compareExchange(this.#cell, 0, before, BigInt(-n)) === before
  }
}
