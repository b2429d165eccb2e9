import { buildSync, type BuildOptions, type Metafile } from 'esbuild';
import * as fs from 'node:fs';
import { isBuiltin } from 'node:module';
import * as path from 'node:path';
import { LAMBDA_BUNDLING } from '../../lib/constructs/deployer-function';

/**
 * The Lambda bundles as DeployerFunction builds them, for the bundle budget (test/cdk/lambda-bundles.test.ts and
 * `npm run bench`): the same esbuild options as the NodejsFunction bundling of lib/constructs/deployer-function.ts
 * (which runs `esbuild --bundle --platform=node` with them), without a CDK synth.
 */

/** README "Performance": each Lambda bundle at most 250 KB (minified, AWS SDK external)... */
export const BUNDLE_BUDGET_BYTES = 250 * 1024;
/** ...and the cold import of each, AWS SDK included, at most 200 ms. */
export const COLD_IMPORT_BUDGET_MS = 200;

const ROOT = path.join(__dirname, '..', '..');
export const LAMBDAS_DIR = path.join(ROOT, 'lambdas');

/** Every handler folder under lambdas/ (the ones with an index.ts). */
export function lambdaHandlers(): string[] {
  return fs
    .readdirSync(LAMBDAS_DIR)
    .filter((dir) => fs.existsSync(path.join(LAMBDAS_DIR, dir, 'index.ts')))
    .sort();
}

/** NodejsFunction's esbuild arguments for LAMBDA_BUNDLING, as esbuild API options. */
export function lambdaEsbuildOptions(handler: string): BuildOptions {
  return {
    entryPoints: [path.join(LAMBDAS_DIR, handler, 'index.ts')],
    bundle: true,
    platform: 'node',
    target: LAMBDA_BUNDLING.target,
    // OutputFormat's values are esbuild's own format names ('cjs', 'esm').
    format: String(LAMBDA_BUNDLING.format) as BuildOptions['format'],
    minify: LAMBDA_BUNDLING.minify,
    keepNames: LAMBDA_BUNDLING.keepNames,
    sourcemap: LAMBDA_BUNDLING.sourceMap,
    external: [...LAMBDA_BUNDLING.externalModules],
    logLevel: 'silent',
  };
}

export interface LambdaBundle {
  readonly handler: string;
  readonly bytes: number;
  /** The bundle file, when it was written (`outDir`). */
  readonly file?: string;
  /** The packages the bundle requires at run time (Node's own modules aside): the AWS SDK the runtime provides. */
  readonly externals: string[];
  /** The source files bundled, relative to the repository root; packages as their folder under node_modules. */
  readonly inputs: Record<string, number>;
}

/** Bundles every handler; with `outDir`, also writes each bundle there as `<handler>.js`. */
export function bundleLambdas(outDir?: string): LambdaBundle[] {
  return lambdaHandlers().map((handler) => {
    // Without outDir nothing is written: the name only labels the output.
    const outfile = path.join(outDir ?? LAMBDAS_DIR, `${handler}.bundle.js`);
    const result = buildSync({ ...lambdaEsbuildOptions(handler), outfile, write: outDir !== undefined, metafile: true, absWorkingDir: ROOT });
    const [output] = Object.values(result.metafile.outputs);
    return {
      handler,
      bytes: output.bytes,
      ...(outDir !== undefined ? { file: outfile } : {}),
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
