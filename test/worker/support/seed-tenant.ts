/**
 * @module
 * Setup file of the worker project (runs in workerd before each test file): applies the D1 migrations and
 * seeds the shared test tenant, importing `TEST_API_KEY` through the admin API exactly as `npm start` seeds
 * the development tenant. Tests that change limits or keys create their own tenants instead.
 */
import { applyD1Migrations } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { admin } from './admin-client.ts'
import { TEST_API_KEY } from './scenarios.ts'
import { testEnv } from './test-env.ts'

await applyD1Migrations(env.DB, testEnv.TEST_MIGRATIONS)

const tenant = await admin('POST', '/tenants', { name: 'test tenant' })
const { id } = await tenant.json<{ id: string }>()
const key = await admin('POST', `/tenants/${id}/keys`, { name: 'test key', key: TEST_API_KEY })
// 409: this storage already has the key (a setup file may run again in the same storage).
if (key.status !== 201 && key.status !== 409) {
  throw new Error(`seeding the test key failed: HTTP ${key.status} ${await key.text()}`)
}
