import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface TerraformResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export const TERRAFORM_NOT_FOUND_MESSAGE =
  'terraform not found on PATH: the integration tests need terraform 1.11.4 (the CI image has it at ' +
  '/usr/local/bin/terraform); elsewhere install the linux zip from releases.hashicorp.com/terraform/1.11.4/, ' +
  'which is not reachable from this offline machine';

/** Per-run plugin cache and CLI config, so runs neither read nor fill anything on the host. */
function terraformEnv(runDir: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const cliConfig = path.join(runDir, 'terraformrc');
  fs.writeFileSync(cliConfig, '');
  fs.mkdirSync(path.join(runDir, 'plugin-cache'));
  const inherited = process.env.TF_CLI_CONFIG_FILE;
  return {
    ...process.env,
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    CHECKPOINT_DISABLE: '1',
    TF_PLUGIN_CACHE_DIR: path.join(runDir, 'plugin-cache'),
    // A TF_CLI_CONFIG_FILE pointing at a missing file makes every command print a warning.
    TF_CLI_CONFIG_FILE: inherited && fs.existsSync(inherited) ? inherited : cliConfig,
    ...extra,
  };
}

/** Runs `terraform ...args` in `dir` without a shell and collects its output; never rejects on exit code. */
export async function runTerraform(
  dir: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<TerraformResult> {
  const runDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'tf-run-'));
  try {
    return await new Promise<TerraformResult>((resolve, reject) => {
      const child = spawn('terraform', args, {
        cwd: dir,
        env: terraformEnv(runDir, env),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.once('error', (error: NodeJS.ErrnoException) => {
        reject(error.code === 'ENOENT' ? new Error(TERRAFORM_NOT_FOUND_MESSAGE) : error);
      });
      child.once('close', (code, signal) => {
        resolve({
          code: code ?? (signal ? 128 : 1),
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
        });
      });
    });
  } finally {
    await fs.promises.rm(runDir, { recursive: true, force: true });
  }
}

/** The installed terraform version; throws a message naming how to get terraform when it is missing. */
export async function terraformVersion(): Promise<string> {
  const result = await runTerraform(os.tmpdir(), ['version', '-json']);
  if (result.code !== 0) throw new Error(`terraform version failed (${result.code}): ${result.stderr}`);
  return (JSON.parse(result.stdout) as { terraform_version: string }).terraform_version;
}

export async function copyDir(src: string, dest: string): Promise<void> {
  await fs.promises.cp(src, dest, { recursive: true, errorOnExist: true, force: false });
}

type S3BackendSettings = Record<string, unknown>;

function s3BackendOf(json: unknown): S3BackendSettings | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const terraformBlocks = (json as { terraform?: unknown }).terraform;
  // Terraform's JSON syntax allows a block to be written as an object or as an array of objects.
  const blocks = Array.isArray(terraformBlocks) ? terraformBlocks : [terraformBlocks];
  for (const block of blocks) {
    const s3 = (block as { backend?: { s3?: unknown } } | undefined)?.backend?.s3;
    if (typeof s3 === 'object' && s3 !== null) return (Array.isArray(s3) ? s3[0] : s3) as S3BackendSettings;
  }
  return undefined;
}

/** Settings that point the s3 backend at moto; terraform 1.11 accepts every one of them. */
export function motoS3BackendSettings(endpoint: string): S3BackendSettings {
  return {
    endpoints: { s3: endpoint },
    use_path_style: true,
    skip_credentials_validation: true,
    skip_requesting_account_id: true,
    skip_metadata_api_check: true,
    skip_region_validation: true,
    access_key: 'testing',
    secret_key: 'testing',
  };
}

/**
 * Writes `backend_override.tf.json` so the workspace's s3 backend talks to moto.
 * Terraform replaces a backend block from an override file wholesale instead of merging it, so the
 * override repeats the workspace's own s3 settings (bucket, key, ...) read from its `*.tf.json` files.
 */
export async function writeMotoBackendOverride(dir: string, endpoint: string): Promise<string> {
  const files = (await fs.promises.readdir(dir)).filter(
    (name) => name.endsWith('.tf.json') && !/(^|_)override\.tf\.json$/.test(name),
  );
  let base: S3BackendSettings | undefined;
  for (const name of files) {
    base = s3BackendOf(JSON.parse(await fs.promises.readFile(path.join(dir, name), 'utf8')));
    if (base) break;
  }
  if (!base) {
    throw new Error(
      `no s3 backend found in the *.tf.json files of ${dir}: writeMotoBackendOverride copies the backend ` +
        'settings into the override, so declare the backend in JSON',
    );
  }
  const overridePath = path.join(dir, 'backend_override.tf.json');
  const override = { terraform: { backend: { s3: { ...base, ...motoS3BackendSettings(endpoint) } } } };
  await fs.promises.writeFile(overridePath, `${JSON.stringify(override, null, 2)}\n`);
  return overridePath;
}

export { awsProviderMirrorConfig } from '../../support/terraform-mirror';
