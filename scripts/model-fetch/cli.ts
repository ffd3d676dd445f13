/**
 * @module
 * `npm run model:fetch -- [--dtype q4] [--dir DIR] [--repo REPO] [--revision REV]`: downloads the Gemma 3n
 * ONNX export, checks the folder as the GPU node will, and prints how to start a node with it. Progress
 * goes to stderr, the result to stdout; the exit status is 0 only when the folder is ready to serve.
 */
import { resolve } from 'node:path'
import { parseCli, USAGE } from './args.ts'
import { FetchError } from './errors.ts'
import { fetchModel } from './fetch-model.ts'
import { checkModelFolder, startHint } from './folder-check.ts'
import { Progress, formatBytes } from './progress.ts'

const ROOT = resolve(import.meta.dirname, '..', '..')

process.on('SIGINT', () => {
  process.stderr.write('\nInterrupted. Run the same command again to resume the download.\n')
  process.exit(130)
})

try {
  const options = parseCli(
    process.argv.slice(2),
    process.env,
    ROOT,
    process.env.INIT_CWD ?? process.cwd(),
  )
  if (options.help) {
    console.log(USAGE)
    process.exit(0)
  }
  console.error(
    `model:fetch ${options.repo}@${options.revision} from ${options.endpoint} into ${options.dir}`,
  )
  const result = await fetchModel({ ...options, progress: new Progress(process.stderr) })
  console.log(
    `${options.repo} at commit ${result.commit.slice(0, 12)} is in ${result.dir} ` +
      `(${result.files} files of this variant; ${formatBytes(result.downloadedBytes)} transferred this run).`,
  )
  try {
    const check = await checkModelFolder(result.dir, result.dtype, options.loadCheck)
    const sessions = Object.entries(check.dtypes).map(([s, d]) => `${s}=${d}`)
    console.log(
      `Folder check passed${check.loaded ? ' (text sessions opened on CPU)' : ''}: ${sessions.join(', ')}.`,
    )
  } catch (error) {
    console.error(
      `The download is complete and verified, but the GPU node would refuse the folder:\n${(error as Error).message}`,
    )
    process.exit(1)
  }
  console.log(startHint(result.dir, result.dtype))
} catch (error) {
  console.error(error instanceof FetchError ? `model:fetch: ${error.message}` : error)
  process.exit(1)
}
