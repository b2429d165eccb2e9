/**
 * Proves the offline toolchain the rehearsal relies on: real terraform runs the sample gateway module from a
 * workspace laid out as the vendor HOWTO describes, with its state in an S3 backend served by moto.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createBucket, getObjectText, listKeys, motoEndpoint } from './support/aws-clients';
import { copyDir, runTerraform, writeMotoBackendOverride, type TerraformResult } from './support/terraform';

const TERRAFORM_TIMEOUT_MS = 120_000;
const SAMPLE_MODULE = path.join(__dirname, '..', 'fixtures', 'sample-gateway-module');

const HELM_USERNAME = 'helm-user-fixture';
const HELM_PASSWORD = 'helm-password-fixture-3f9a';
const VALUES_SECRET = 'values-secret-fixture-7c1e';

const workspaces: string[] = [];

afterAll(async () => {
  await Promise.all(workspaces.map((dir) => fs.promises.rm(dir, { recursive: true, force: true })));
});

/** Bucket names are global in moto too; a per-run suffix keeps parallel test files apart. */
function uniqueBucketName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}`.toLowerCase();
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await fs.promises.writeFile(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** The deployment folder from the HOWTO: gateway/, gateway.tf, values.yaml, the backend, plus root outputs. */
async function writeWorkspace(bucket: string, stateKey: string): Promise<string> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-workspace-'));
  workspaces.push(dir);
  await copyDir(SAMPLE_MODULE, path.join(dir, 'gateway'));
  await writeJson(path.join(dir, 'gateway.tf.json'), {
    module: {
      gateway: {
        source: './gateway',
        name: 'gw-test',
        helm_repository_username: '${var.helm_repository_username}',
        helm_repository_password: '${var.helm_repository_password}',
        helm_chart_values: ['${sensitive(file("${path.root}/values.yaml"))}'],
      },
    },
  });
  await writeJson(path.join(dir, 'variables.tf.json'), {
    variable: {
      helm_repository_username: { type: 'string', sensitive: true },
      helm_repository_password: { type: 'string', sensitive: true },
    },
  });
  // Child module outputs are not in state; `terraform output` only sees root outputs.
  await writeJson(path.join(dir, 'outputs.tf.json'), {
    output: {
      cluster_name: { value: '${module.gateway.cluster_name}' },
      endpoint: { value: '${module.gateway.endpoint}' },
      dal_role_arn: { value: '${module.gateway.dal_role_arn}' },
    },
  });
  await writeJson(path.join(dir, 'backend.tf.json'), {
    terraform: {
      backend: {
        s3: { bucket, key: stateKey, region: 'eu-central-1', encrypt: true, use_lockfile: true },
      },
    },
  });
  await writeMotoBackendOverride(dir, motoEndpoint());
  await fs.promises.writeFile(
    path.join(dir, 'values.yaml'),
    `gateway:\n  name: gw-test\nagent:\n  token: ${VALUES_SECRET}\n`,
  );
  return dir;
}

/** Fails with terraform's own output, which is what one needs to read when a step breaks. */
function expectSuccess(step: string, result: TerraformResult): void {
  if (result.code !== 0) {
    throw new Error(`terraform ${step} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
  }
}

const helmCredentials = {
  TF_VAR_helm_repository_username: HELM_USERNAME,
  TF_VAR_helm_repository_password: HELM_PASSWORD,
};

describe('sample gateway module with real terraform and an S3 backend on moto', () => {
  test(
    'init, validate, plan and apply store the state in the bucket and release the lock',
    async () => {
      // GIVEN
      const bucket = uniqueBucketName('tf-state');
      const stateKey = 'gateways/gw-test/terraform.tfstate';
      await createBucket(bucket);
      const dir = await writeWorkspace(bucket, stateKey);

      // WHEN
      const init = await runTerraform(dir, ['init', '-no-color']);
      expectSuccess('init', init);
      expectSuccess('validate', await runTerraform(dir, ['validate', '-no-color']));
      const plan = await runTerraform(dir, ['plan', '-no-color', '-out', 'tfplan'], helmCredentials);
      expectSuccess('plan', plan);
      expectSuccess('apply', await runTerraform(dir, ['apply', '-no-color', 'tfplan'], helmCredentials));
      const output = await runTerraform(dir, ['output', '-json']);
      expectSuccess('output', output);

      // THEN
      expect(init.stdout).toContain('Successfully configured the backend "s3"');
      expect(plan.stdout).toContain('module.vpc.terraform_data.vpc[0] will be created');
      expect(plan.stdout).not.toContain(VALUES_SECRET);
      expect(plan.stdout).not.toContain(HELM_PASSWORD);

      const outputs = JSON.parse(output.stdout) as Record<string, { value: unknown }>;
      expect(outputs.cluster_name.value).toBe('gw-test');
      expect(outputs.endpoint.value).toMatch(/^https:\/\/\S+$/);
      expect(outputs.dal_role_arn.value).toMatch(/^arn:aws:iam::\d{12}:role\/gw-test-dal$/);

      const keys = await listKeys(bucket);
      expect(keys).toContain(stateKey);
      expect(keys).not.toContain(`${stateKey}.tflock`);
      const state = await getObjectText(bucket, stateKey);
      expect(JSON.parse(state).outputs.cluster_name.value).toBe('gw-test');
      // The module keeps only digests of the values and credentials, never the raw text.
      expect(state).not.toContain(VALUES_SECRET);
      expect(state).not.toContain(HELM_PASSWORD);
      // Terraform kept no local copy: the state lives only in the backend.
      expect(fs.existsSync(path.join(dir, 'terraform.tfstate'))).toBe(false);
    },
    TERRAFORM_TIMEOUT_MS,
  );

  test(
    'plan without a required variable fails',
    async () => {
      // GIVEN
      const bucket = uniqueBucketName('tf-state-missing');
      await createBucket(bucket);
      const dir = await writeWorkspace(bucket, 'gateways/gw-missing/terraform.tfstate');
      expectSuccess('init', await runTerraform(dir, ['init', '-no-color']));

      // WHEN
      const plan = await runTerraform(dir, ['plan', '-no-color'], {
        TF_VAR_helm_repository_username: HELM_USERNAME,
      });

      // THEN
      expect(plan.code).not.toBe(0);
      expect(plan.stderr).toContain('No value for required variable');
      expect(plan.stderr).toContain('helm_repository_password');
      expect(await listKeys(bucket)).toEqual([]);
    },
    TERRAFORM_TIMEOUT_MS,
  );

  test(
    'the module rejects an empty gateway name',
    async () => {
      // GIVEN
      const bucket = uniqueBucketName('tf-state-empty-name');
      await createBucket(bucket);
      const dir = await writeWorkspace(bucket, 'gateways/gw-empty/terraform.tfstate');
      const gatewayFile = path.join(dir, 'gateway.tf.json');
      const gateway = JSON.parse(await fs.promises.readFile(gatewayFile, 'utf8'));
      gateway.module.gateway.name = ' ';
      await writeJson(gatewayFile, gateway);
      expectSuccess('init', await runTerraform(dir, ['init', '-no-color']));

      // WHEN
      const plan = await runTerraform(dir, ['plan', '-no-color'], helmCredentials);

      // THEN
      expect(plan.code).not.toBe(0);
      expect(plan.stderr).toContain('The gateway name must not be empty.');
    },
    TERRAFORM_TIMEOUT_MS,
  );
});
