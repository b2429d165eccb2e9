/** terraform.providerHashes → the workspace's .terraform.lock.hcl (the file Plan's terraform init reads). */
import { parseGatewayConfig, type GatewayConfigInput } from '../../lambdas/shared/domain/gateway-config';
import { LOCK_FILE_NAME, renderLockFile, renderWorkspace, resolveBackend } from '../../lambdas/shared/domain/workspace';

const BASE: GatewayConfigInput = {
  gatewayName: 'gw',
  target: { account: '123456789012', region: 'eu-central-1' },
  valuesSecretName: 'gw/values',
  approval: { approvers: ['arn:aws:iam::123456789012:role/GatewayOperator'] },
};
/** h1: is base64 of a 32-byte digest (44 characters with its padding), zh: the zip's sha256 in hex. */
const H1 = `h1:${Buffer.alloc(32, 7).toString('base64')}`;
const H1_B = `h1:${Buffer.alloc(32, 9).toString('base64')}`;
const ZH = `zh:${'ab'.repeat(32)}`;
const withHashes = (providerHashes: object) => parseGatewayConfig({ ...BASE, terraform: { providerHashes } as never });

test('no hashes configured: no lock file, Plan makes its own as before', () => {
  const config = parseGatewayConfig(BASE);
  expect(renderLockFile(config)).toBeNull();
  expect(renderWorkspace({ config, backend: resolveBackend(config, 'state') }).map((f) => f.name)).not.toContain(LOCK_FILE_NAME);
});

test('one block per provider with hashes, at its pinned version, hashes sorted and unique', () => {
  const text = renderLockFile(withHashes({ aws: [ZH, H1, H1], kubectl: [H1_B] }))!;
  expect(text).toBe(
    [
      '# Rendered by the deployer from terraform.providerHashes of the gateway config.',
      '',
      'provider "registry.terraform.io/hashicorp/aws" {',
      '  version     = "5.100.0"',
      '  constraints = "5.100.0"',
      '  hashes = [',
      `    "${H1}",`,
      `    "${ZH}",`,
      '  ]',
      '}',
      '',
      'provider "registry.terraform.io/gavinbunney/kubectl" {',
      '  version     = "1.14.0"',
      '  constraints = "1.14.0"',
      '  hashes = [',
      `    "${H1_B}",`,
      '  ]',
      '}',
      '',
    ].join('\n'),
  );
});

test('the configured provider version is the one locked', () => {
  const config = parseGatewayConfig({ ...BASE, terraform: { providerVersions: { aws: '5.99.1' }, providerHashes: { aws: [H1] } } });
  expect(renderLockFile(config)).toContain('version     = "5.99.1"');
  expect(renderWorkspace({ config, backend: resolveBackend(config, 'state') }).find((f) => f.name === LOCK_FILE_NAME)?.content).toContain('hashicorp/aws');
});

test.each([
  [{ aws: ['sha256:abc'] }, 'terraform.providerHashes.aws[0]: must be a lock-file hash'],
  [{ aws: ['h1:tooshort='] }, 'terraform.providerHashes.aws[0]: must be a lock-file hash'],
  [{ aws: [`zh:${'AB'.repeat(32)}`] }, 'terraform.providerHashes.aws[0]: must be a lock-file hash'],
  // A quote or a newline would break out of the HCL string: refused by the same pattern.
  [{ aws: [`h1:${'A'.repeat(42)}"=`] }, 'terraform.providerHashes.aws[0]: must be a lock-file hash'],
  [{ aws: [] }, 'terraform.providerHashes.aws: give at least one hash'],
  [{ awz: [H1] }, 'terraform.providerHashes.awz: unknown field'],
])('a bad hash list %j is refused at synth, naming the field', (providerHashes, message) => {
  expect(() => withHashes(providerHashes)).toThrow(message);
});
