// Lint rules, including the layer bans from the architecture: only gpu-node/model imports
// onnxruntime; worker/ and gpu-node/ share nothing but shared/; shared/ depends on neither.
import tseslint from 'typescript-eslint'

const layer = (files, patterns) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns }] },
})

export default tseslint.config(
  {
    ignores: [
      'node_modules',
      '**/.wrangler',
      '.cache',
      'dist',
      '.proto',
      'worker-configuration.d.ts',
    ],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  layer(
    ['worker/**'],
    [
      { group: ['**/gpu-node/**'], message: 'worker/ may import only shared/.' },
      { group: ['onnxruntime-*'], message: 'The worker never touches the model.' },
    ],
  ),
  layer(
    ['gpu-node/**'],
    [{ group: ['**/worker/**'], message: 'gpu-node/ may import only shared/.' }],
  ),
  layer(
    ['gpu-node/engine/**', 'gpu-node/http/**', 'gpu-node/text/**'],
    [
      {
        group: ['onnxruntime-*'],
        message: 'Only gpu-node/model/ talks to onnxruntime (the runner interface hides it).',
      },
    ],
  ),
  layer(
    ['gpu-node/engine/scheduler*.ts'],
    [{ group: ['hono', '@hono/*', 'node:http'], message: 'The scheduler is pure.' }],
  ),
  layer(
    ['shared/**'],
    [{ group: ['**/worker/**', '**/gpu-node/**'], message: 'shared/ is the contract only.' }],
  ),
)
