/**
 * The EKS token cache shared by the Verify helper and kubectl's credential plugin (kube-token.js): one JSON file
 * in the work folder. verify-step.js seeds it with a token it minted in-process (eks-token.ts) before the first
 * kubectl call; the plugin prints the cached credential while it is valid for more than TOKEN_MARGIN_SECONDS and
 * otherwise runs `aws eks get-token` and caches that. No SDK here: the plugin's start-up stays small.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Seconds a cached token must still be valid for to be reused. */
export const TOKEN_MARGIN_SECONDS = 120;

/** client.authentication.k8s.io ExecCredential, as `aws eks get-token` prints it. */
export interface ExecCredential {
  readonly kind: 'ExecCredential';
  readonly apiVersion: string;
  readonly spec: Record<string, unknown>;
  readonly status: { readonly expirationTimestamp: string; readonly token: string };
}

/** Who made the cached token: the helper in-process (`sdk`), or the plugin's fallback (`aws-cli`). */
export type TokenSource = 'sdk' | 'aws-cli';

export interface CachedToken {
  readonly cluster: string;
  readonly source: TokenSource;
  readonly status: ExecCredential['status'];
  readonly credential: ExecCredential;
}

export const tokenCacheFile = (workDir: string): string => path.join(workDir, 'token.json');

/** The cached credential for this cluster if it is valid for more than the margin; undefined otherwise. */
export async function readCachedCredential(file: string, cluster: string, now: Date): Promise<ExecCredential | undefined> {
  try {
    const cached = JSON.parse(await fs.promises.readFile(file, 'utf-8')) as Partial<CachedToken> | null;
    const expires = Date.parse(cached?.credential?.status?.expirationTimestamp ?? '');
    if (cached?.cluster === cluster && expires - now.getTime() > TOKEN_MARGIN_SECONDS * 1000) return cached.credential;
  } catch {
    // No usable cache.
  }
  return undefined;
}

/** Written next to the cache and renamed over it (mode 0600), so a reader never sees half a file. */
export async function writeCachedCredential(file: string, cluster: string, credential: ExecCredential, source: TokenSource): Promise<void> {
  const entry: CachedToken = { cluster, source, status: credential.status, credential };
  const partial = `${file}.${process.pid}.tmp`;
  await fs.promises.writeFile(partial, JSON.stringify(entry), { mode: 0o600 });
  await fs.promises.rename(partial, file);
}
