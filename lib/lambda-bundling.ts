import { buildSync, type BuildOptions, type Metafile } from 'esbuild';
import * as fs from 'node:fs';
import { isBuiltin } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * How every Lambda is bundled: one esbuild build for all handlers (each entry point its own self-contained
 * `<handler>/index.js`; CommonJS has no shared chunks). NodejsFunction would start esbuild once per function,
 * which was most of `cdk synth` (ten processes, about 6 s of 15 on two cores); one build takes well under 2 s.
 * The bundle budget (docs/performance.md: each bundle at most 250 KB, its cold import at most 200 ms) is checked
 * on these same bundles by test/cdk/lambda-bundles.test.ts and `npm run bench`.
 */

const ROOT = path.join(__dirname, '..');
export const LAMBDAS_DIR = path.join(ROOT, 'lambdas');

export const LAMBDA_ESBUILD_OPTIONS = {
  bundle: true,
  platform: 'node',
  // The Node 24 runtime (lambda.Runtime.NODEJS_24_X in DeployerFunction), the Node.js the tests and the bench run on.
  target: 'node24',
  format: 'cjs',
  minify: true,
  // Error class names are what Step Functions retries and catches on; minifying must not rename them.
  keepNames: true,
  // No source maps: they double the bundle, and handler stack traces are short.
  sourcemap: false,
  // The runtime ships AWS SDK v3: leaving it out keeps bundles small and cold starts short.
  external: ['@aws-sdk/*'],
  logLevel: 'warning',
} as const satisfies BuildOptions;

/** Every handler folder under lambdas/ (the ones with an index.ts). */
export function lambdaHandlers(): string[] {
  return fs
    .readdirSync(LAMBDAS_DIR)
    .filter((dir) => fs.existsSync(path.join(LAMBDAS_DIR, dir, 'index.ts')))
    .sort();
}

export interface LambdaBundle {
  readonly handler: string;
  readonly bytes: number;
  /** The bundle file: `<outDir>/<handler>/index.js`. */
  readonly file: string;
  /** The packages the bundle requires at run time (Node's own modules aside): the AWS SDK the runtime provides. */
  readonly externals: string[];
  /** The source files bundled, relative to the repository root; packages as their folder under node_modules. */
  readonly inputs: Record<string, number>;
}

/** Bundles every handler in one esbuild build into `<outDir>/<handler>/index.js`. */
export function bundleLambdas(outDir: string): LambdaBundle[] {
  const handlers = lambdaHandlers();
  const result = buildSync({
    ...LAMBDA_ESBUILD_OPTIONS,
    entryPoints: Object.fromEntries(handlers.map((h) => [`${h}/index`, path.join(LAMBDAS_DIR, h, 'index.ts')])),
    outdir: outDir,
    metafile: true,
    absWorkingDir: ROOT,
  });
  const outputs = result.metafile.outputs;
  return handlers.map((handler) => {
    const file = path.join(outDir, handler, 'index.js');
    const output = outputs[path.relative(ROOT, file)];
    if (!output) throw new Error(`esbuild wrote no ${file}`);
    return {
      handler,
      bytes: output.bytes,
      file,
      externals: [...new Set(output.imports.filter((i) => i.external && !isBuiltin(i.path)).map((i) => i.path))].sort(),
      inputs: inputsByPackage(output),
    };
  });
}

/** Bytes in the bundle per package (`yaml`, `@aws-lambda-powertools/logger`) or per file of this repository. */
function inputsByPackage(output: Metafile['outputs'][string]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [file, { bytesInOutput }] of Object.entries(output.inputs)) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    const key = pkg ? pkg[1] : file;
    out[key] = (out[key] ?? 0) + bytesInOutput;
  }
  return out;
}

let shared: { dir: string; bundles: Map<string, LambdaBundle> } | undefined;

/**
 * The bundle of one handler for a synth: the first call bundles all of them into a temporary folder (removed when
 * the process exits), later calls of the same process reuse it.
 */
export function sharedLambdaBundle(handler: string): LambdaBundle {
  if (!shared) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-lambdas-'));
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    shared = { dir, bundles: new Map(bundleLambdas(dir).map((b) => [b.handler, b])) };
  }
  const bundle = shared.bundles.get(handler);
  if (!bundle) throw new Error(`no Lambda handler lambdas/${handler}/index.ts`);
  return bundle;
}
