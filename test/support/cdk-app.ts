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
