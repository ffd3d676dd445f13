/**
 * Three test projects in one run:
 * - `worker`: the edge, inside workerd (the Cloudflare vitest plugin), with real bindings.
 * - `node`: GPU node, shared contract and tooling units, the transformers.js oracle, in plain Node.
 * - `e2e`: whole processes (GPU node, `wrangler dev`, Chromium); slow, run one file at a time.
 */
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: [
      {
        // The fake GPU node is started by the globalSetup (in Node) before workerd, which reads its port.
        // D1 migrations are read here (Node) and applied inside workerd by the setup file.
        plugins: [
          cloudflareTest(async ({ inject }) => ({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: {
                ADMIN_TOKEN: 'test-admin-token',
                TEST_MIGRATIONS: await readD1Migrations('./migrations'),
                GPU_NODE_SECRET: 'node-secret',
                GPU_NODES: `http://127.0.0.1:${inject('fakeNodePort')}`,
              },
            },
          })),
        ],
        test: {
          name: 'worker',
          include: ['test/worker/**/*.test.ts'],
          globalSetup: ['./test/worker/global-setup.ts'],
          setupFiles: ['./test/worker/support/seed-tenant.ts'],
        },
      },
      {
        test: {
          name: 'node',
          include: ['test/node/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
})
