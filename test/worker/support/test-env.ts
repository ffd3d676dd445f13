/**
 * @module
 * The worker test project's `env` with the bindings only it has (vitest.config.ts): the D1 migrations read
 * in Node and the admin token.
 */
import type { D1Migration } from 'cloudflare:test'
import { env } from 'cloudflare:workers'

export const testEnv = env as typeof env & { TEST_MIGRATIONS: D1Migration[]; ADMIN_TOKEN: string }
