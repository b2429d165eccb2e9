import { App, type AppProps } from 'aws-cdk-lib';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * An App for a test synthesis, writing its cloud assembly to a folder of its own that `remove()` deletes. Without
 * an outdir CDK makes /tmp/cdk.outXXXXXX for every App and never removes it: about twenty folders of bundled assets
 * per `npm test`, gigabytes on a machine that runs the suite all day.
 */
export function scratchApp(props: AppProps): { app: App; remove: () => void } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-test-cdk-'));
  return { app: new App({ ...props, outdir }), remove: () => fs.rmSync(outdir, { recursive: true, force: true }) };
}

/**
 * A scratch App as `cdk synth` makes one for this project: cdk.json's context (its feature flags), without CDK's
 * built-in CloudFormation validation (seconds per synth; `cdk synth` runs it and stops on a finding), and with
 * asset bundling only when `bundle` (esbuild for the Lambdas and the build helpers).
 */
export function projectScratchApp(bundle: boolean): { app: App; remove: () => void } {
  const { context } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf-8'));
  return scratchApp({ builtinCloudFormationValidation: false, context: { ...context, 'aws:cdk:bundling-stacks': bundle ? ['**'] : [] } });
}
