import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleLambdas as bundleInto, lambdaHandlers, type LambdaBundle } from '../../lib/lambda-bundling';

/**
 * The Lambda bundles exactly as the stack builds them (lib/lambda-bundling.ts), for the bundle budget
 * (test/cdk/lambda-bundles.test.ts and `npm run bench`), without a CDK synth.
 */
export { lambdaHandlers, type LambdaBundle };

/** docs/performance.md: each Lambda bundle at most 250 KB (minified, AWS SDK external)... */
export const BUNDLE_BUDGET_BYTES = 250 * 1024;
/** ...and the cold import of each, AWS SDK included, at most 200 ms. */
export const COLD_IMPORT_BUDGET_MS = 200;

/** Bundles every handler into `outDir` (`<handler>/index.js`), or into a temporary folder removed afterwards. */
export function bundleLambdas(outDir?: string): LambdaBundle[] {
  if (outDir !== undefined) return bundleInto(outDir);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lambda-bundles-'));
  try {
    return bundleInto(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
