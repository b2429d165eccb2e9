import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { extractBundle } from '../../lambdas/shared/adapters/zip-reader';
import { BundleError } from '../../lambdas/shared/domain/errors';
import { secretStrings, parseValues } from '../../lambdas/shared/domain/values';
import { HELM_CREDENTIAL_VARIABLES, MODULE_DIR, VALUES_FILE } from '../../lambdas/shared/domain/workspace';

/**
 * The HOWTO's deployment folder, rebuilt inside a build: the rendered files, the module unzipped into gateway/,
 * and values.yaml (owner-only). Nothing of values.yaml leaves this machine.
 */

// An emulator endpoint (AWS_ENDPOINT_URL) needs path-style S3 addressing; real S3 does not mind it.
const emulated = Boolean(process.env.AWS_ENDPOINT_URL);
export const s3 = new S3Client({ forcePathStyle: emulated });
const secretsManager = new SecretsManagerClient({});

export interface StepContext {
  readonly bucket: string;
  readonly gateway: string;
  readonly runId: string;
  readonly workspacePrefix: string;
  readonly bundleKey: string;
  readonly bundleVersionId?: string;
  readonly bundleSha256?: string;
  readonly valuesSecretArn: string;
  readonly valuesSecretVersionId?: string;
  readonly workDir: string;
  readonly limits: { readonly maxEntries: number; readonly maxUncompressedBytes: number };
}

export interface PreparedWorkspace {
  readonly dir: string;
  /** Strings to redact from everything printed or stored. */
  readonly secrets: string[];
  /** TF_VAR_* for the sensitive root variables. */
  readonly tfVars: Record<string, string>;
}

export function contextFromEnv(env: NodeJS.ProcessEnv): StepContext {
  const need = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`environment variable ${name} is not set (the state machine passes it to the build)`);
    return value;
  };
  const optional = (name: string): string | undefined => env[name] || undefined;
  return {
    bucket: need('ARTIFACTS_BUCKET'),
    gateway: need('GATEWAY'),
    runId: need('RUN_ID'),
    workspacePrefix: need('WORKSPACE_PREFIX'),
    bundleKey: need('BUNDLE_KEY'),
    bundleVersionId: optional('BUNDLE_VERSION_ID'),
    bundleSha256: optional('BUNDLE_SHA256'),
    valuesSecretArn: need('VALUES_SECRET_ARN'),
    valuesSecretVersionId: optional('VALUES_SECRET_VERSION_ID'),
    workDir: env.WORK_DIR || '/tmp/gateway-run',
    limits: {
      maxEntries: Number(env.BUNDLE_MAX_ENTRIES || 5_000),
      maxUncompressedBytes: Number(env.BUNDLE_MAX_UNCOMPRESSED_BYTES || 256 * 1024 * 1024),
    },
  };
}

export async function getBytes(bucket: string, key: string, versionId?: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** The version id of the object's current version (undefined in a bucket without versioning). */
export async function latestVersionId(bucket: string, key: string): Promise<string | undefined> {
  const out = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return out.VersionId;
}

/** Stores an object; resolves to its version id in a versioned bucket. */
export async function putBytes(bucket: string, key: string, body: Buffer | string, contentType: string): Promise<string | undefined> {
  const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
  return out.VersionId;
}

/** The rendered workspace files of this run (name, content), each name checked before anything is written. */
async function workspaceFiles(ctx: StepContext): Promise<Array<[string, Buffer]>> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: ctx.bucket, Prefix: ctx.workspacePrefix }));
  const keys = (listed.Contents ?? []).map((o) => o.Key!).filter((k) => k !== ctx.workspacePrefix);
  if (keys.length === 0) throw new Error(`no workspace files under s3://${ctx.bucket}/${ctx.workspacePrefix}`);
  const names = keys.map((key) => {
    const name = key.slice(ctx.workspacePrefix.length);
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`unexpected workspace file ${JSON.stringify(key)}`);
    return name;
  });
  return Promise.all(names.map(async (name, i): Promise<[string, Buffer]> => [name, await getBytes(ctx.bucket, keys[i])]));
}

export async function prepareWorkspace(ctx: StepContext): Promise<PreparedWorkspace> {
  const dir = path.resolve(ctx.workDir);
  await fs.promises.rm(dir, { recursive: true, force: true });
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });

  // The workspace files, the bundle and the values are independent reads: fetched at once, judged in this order.
  const [files, zipped, secret] = await Promise.allSettled([
    workspaceFiles(ctx),
    getBytes(ctx.bucket, ctx.bundleKey, ctx.bundleVersionId),
    readValuesSecret(ctx.valuesSecretArn, ctx.valuesSecretVersionId),
  ]);
  const settled = <T>(result: PromiseSettledResult<T>): T => {
    if (result.status === 'rejected') throw result.reason;
    return result.value;
  };
  for (const [name, body] of settled(files)) await fs.promises.writeFile(path.join(dir, name), body, { mode: 0o644 });

  const bundleName = ctx.bundleKey.slice(ctx.bundleKey.lastIndexOf('/') + 1);
  const zip = settled(zipped);
  const sha256 = createHash('sha256').update(zip).digest('hex');
  if (ctx.bundleSha256 && sha256 !== ctx.bundleSha256) {
    throw new BundleError(`${bundleName} changed since Preflight checked it: sha256 ${sha256}, expected ${ctx.bundleSha256}`);
  }
  await extractBundle(bundleName, zip, path.join(dir, MODULE_DIR), ctx.limits);
  console.log(`unzipped ${bundleName} (sha256 ${sha256}) into ${MODULE_DIR}/`);

  const values = settled(secret);
  await fs.promises.writeFile(path.join(dir, VALUES_FILE), values.text, { mode: 0o600 });
  console.log(`wrote ${VALUES_FILE} (mode 0600) from the values secret`);
  return { dir, secrets: values.secrets, tfVars: values.tfVars };
}

export interface ValuesSecret {
  readonly text: string;
  /** Strings to redact from everything printed or stored. */
  readonly secrets: string[];
  /** TF_VAR_* for the sensitive root variables. */
  readonly tfVars: Record<string, string>;
}

/** The exact secret version Preflight checked, parsed again; what may never be printed comes back with it. */
export async function readValuesSecret(arn: string, versionId: string | undefined): Promise<ValuesSecret> {
  const secret = await secretsManager.send(new GetSecretValueCommand({ SecretId: arn, VersionId: versionId }));
  const values = parseValues(secret.SecretString, arn);
  const tfVars: Record<string, string> = {};
  for (const [variable, key] of Object.entries(HELM_CREDENTIAL_VARIABLES)) {
    tfVars[`TF_VAR_${variable}`] = values[key];
  }
  // VALUES_SECRET_KEYS: the config's valuesSecretKeys, set on every build project.
  const marked = (process.env.VALUES_SECRET_KEYS ?? '').split(',').filter(Boolean);
  return { text: secret.SecretString!, secrets: [...secretStrings(values, marked), secret.SecretString!], tfVars };
}

/** Writes `export NAME='value'` lines for the buildspec to source, so CodeBuild can export them. */
export async function writeExports(file: string, vars: Record<string, string | number | boolean>): Promise<void> {
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  const lines = Object.entries(vars).map(([name, value]) => `export ${name}=${quote(String(value))}`);
  await fs.promises.writeFile(file, `${lines.join('\n')}\n`);
}
