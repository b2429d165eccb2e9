/**
 * The kubeconfig's exec credential plugin. It prints the token cached in the work folder (token-cache.ts) while it
 * is valid for more than two minutes. verify-step.js seeds that cache with a token it mints in-process before the
 * first kubectl call, so in a normal build this plugin only reads a file. Only when the cached token is near its
 * expiry (a long rollout wait or `helm test` timeout) does it run `aws eks get-token` and cache that. kubectl and
 * helm run it on every call, so it is a file of its own that loads no AWS SDK: node starts it in a fraction of the
 * time the whole verify helper takes.
 */
import { runCommand } from './run-command';
import { readCachedCredential, tokenCacheFile, writeCachedCredential } from './token-cache';

export async function printToken(argv: string[], cacheFile: string, now = new Date()): Promise<void> {
  const cluster = argv[argv.indexOf('--cluster-name') + 1];
  const region = argv[argv.indexOf('--region') + 1];
  const cached = await readCachedCredential(cacheFile, cluster, now);
  if (cached) {
    process.stdout.write(JSON.stringify(cached));
    return;
  }
  const result = await runCommand({ bin: 'aws', args: ['eks', 'get-token', '--cluster-name', cluster, '--region', region, '--output', 'json'], env: process.env, secrets: [], echo: false, captureRawStdout: true });
  if (result.code !== 0) throw new Error(`aws eks get-token failed: ${result.output}`);
  const credential = JSON.parse(result.rawStdout);
  await writeCachedCredential(cacheFile, cluster, credential, 'aws-cli');
  process.stdout.write(JSON.stringify(credential));
}

if (require.main === module) {
  printToken(process.argv, tokenCacheFile(process.env.WORK_DIR || '/tmp/gateway-verify')).then(
    () => process.exit(0),
    (error: Error) => {
      console.error(error.message);
      process.exit(1);
    },
  );
}
