import { buildSync } from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');

/**
 * The CodeBuild source of the Terraform builds: the TypeScript helper bundled into one file (the build image
 * has Node but not our dependencies, so the AWS SDK is bundled too) and the Terraform installer script.
 * CDK stages it as an S3 asset; the tests run the same files with the local buildspec runner.
 */
export function buildTerraformStepSource(outDir: string): void {
  fs.mkdirSync(outDir, { recursive: true });
  buildSync({
    entryPoints: [path.join(ROOT, 'buildspecs', 'helper', 'terraform-step.ts')],
    outfile: path.join(outDir, 'terraform-step.js'),
    bundle: true,
    platform: 'node',
    // The buildspecs ask CodeBuild for Node 20.
    target: 'node20',
    format: 'cjs',
    minify: true,
    // Error class names are matched on; keep them.
    keepNames: true,
    logLevel: 'warning',
  });
  fs.copyFileSync(path.join(ROOT, 'buildspecs', 'install-terraform.sh'), path.join(outDir, 'install-terraform.sh'));
}
