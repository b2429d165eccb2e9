import { buildSync } from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');

/**
 * The CodeBuild source of the Plan, Apply and Verify builds: the TypeScript helpers, each bundled into one file
 * (the build image has Node but not our dependencies, so the AWS SDK is bundled too), and the tool installers.
 * CDK stages it as an S3 asset; the tests run the same files with the local buildspec runner.
 */
export function buildStepSource(outDir: string): void {
  fs.mkdirSync(outDir, { recursive: true });
  buildSync({
    entryPoints: ['terraform-step', 'verify-step', 'kube-token'].map((name) => path.join(ROOT, 'buildspecs', 'helper', `${name}.ts`)),
    outdir: outDir,
    bundle: true,
    platform: 'node',
    // Runs on Node.js 22, pinned in the buildspecs (runtime-versions) on CodeBuild's Amazon Linux 2023 aarch64 image.
    target: 'node22',
    format: 'cjs',
    minify: true,
    // Error class names are matched on; keep them.
    keepNames: true,
    logLevel: 'warning',
  });
  for (const script of ['install-terraform.sh', 'hashicorp-release-key.asc', 'install-kube-tools.sh']) {
    fs.copyFileSync(path.join(ROOT, 'buildspecs', script), path.join(outDir, script));
  }
}
