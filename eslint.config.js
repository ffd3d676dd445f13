// Lint rules, including the layer bans from the architecture: only gpu-node/model imports
// onnxruntime; the scheduler imports neither HTTP nor a runtime; worker/ and gpu-node/ share nothing
// but shared/; shared/ depends on neither.
import tseslint from 'typescript-eslint'

const onlyShared = (side) => ({
  group: [side === 'worker' ? '**/gpu-node/**' : '**/worker/**'],
  message: `${side}/ may import only shared/.`,
})
const noOnnxruntime = {
  group: ['onnxruntime-*'],
  message: 'Only gpu-node/model/ talks to onnxruntime (the runner interface hides it).',
}
const noHttp = { group: ['hono', '@hono/*', 'node:http'], message: 'The scheduler is pure.' }
const scheduler = 'gpu-node/engine/scheduler*.ts'

// One object per region of files, listing every ban that applies there. A later flat-config object
// that sets `no-restricted-imports` replaces an earlier one's options for the same file, so bans on
// overlapping globs would not add up: the regions are kept disjoint with `ignores`.
const layer = (files, patterns, ignores = []) => ({
  files,
  ignores,
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
  layer(['worker/**'], [onlyShared('worker'), noOnnxruntime]),
  layer(['gpu-node/model/**'], [onlyShared('gpu-node')]),
  layer([scheduler], [onlyShared('gpu-node'), noOnnxruntime, noHttp]),
  layer(['gpu-node/**'], [onlyShared('gpu-node'), noOnnxruntime], ['gpu-node/model/**', scheduler]),
  layer(
    ['shared/**'],
    [{ group: ['**/worker/**', '**/gpu-node/**'], message: 'shared/ is the contract only.' }],
  ),
)
