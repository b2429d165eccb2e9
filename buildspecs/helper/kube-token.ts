/**
 * The kubeconfig's exec credential plugin: `aws eks get-token`, cached in the work folder until shortly before
 * it expires. kubectl and helm run it on every call, so it is a file of its own that loads no AWS SDK: node
 * starts it in about a third of the time the whole verify helper takes, which is most of a Verify build.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCommand } from './run-command';

/** Seconds a cached token must still be valid for to be reused. */
const TOKEN_MARGIN_SECONDS = 120;

export async function printToken(argv: string[], cacheFile: string, now = new Date()): Promise<void> {
  const cluster = argv[argv.indexOf('--cluster-name') + 1];
  const region = argv[argv.indexOf('--region') + 1];
  try {
    const cached = JSON.parse(await fs.promises.readFile(cacheFile, 'utf-8'));
    const expires = Date.parse(cached?.status?.expirationTimestamp ?? '');
    if (cached?.cluster === cluster && expires - now.getTime() > TOKEN_MARGIN_SECONDS * 1000) {
      process.stdout.write(JSON.stringify(cached.credential));
      return;
    }
  } catch {
    // No usable cache: fetch a new token.
  }
  const result = await runCommand({ bin: 'aws', args: ['eks', 'get-token', '--cluster-name', cluster, '--region', region, '--output', 'json'], env: process.env, secrets: [], echo: false, captureRawStdout: true });
  if (result.code !== 0) throw new Error(`aws eks get-token failed: ${result.output}`);
  const credential = JSON.parse(result.rawStdout);
  await fs.promises.writeFile(cacheFile, JSON.stringify({ cluster, status: credential.status, credential }), { mode: 0o600 });
  process.stdout.write(JSON.stringify(credential));
}

if (require.main === module) {
  printToken(process.argv, path.join(process.env.WORK_DIR || '/tmp/gateway-verify', 'token.json')).then(
    () => process.exit(0),
    (error: Error) => {
      console.error(error.message);
      process.exit(1);
    },
  );
}
