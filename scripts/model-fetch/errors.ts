/**
 * @module
 * The one error type of `npm run model:fetch` that reaches the operator: its message says what went wrong
 * and what to do next, so the CLI prints it as-is (no stack trace).
 */

/** A failure the operator can act on. `retryable`: a later attempt of the same request may succeed. */
export class FetchError extends Error {
  override name = 'FetchError'
  readonly retryable: boolean
  constructor(message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.retryable = options.retryable ?? false
  }
}

/** Whether a Node error is the disk (or quota) running out of space. */
export function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}
