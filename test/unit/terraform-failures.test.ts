import type { TerraformPlan } from '../../lambdas/shared/domain/plan';
import { diagnoseTerraformFailure } from '../../lambdas/shared/domain/terraform-failures';

/** The FAQ of the HOWTO "Deploying on AWS EKS", "How do I solve Error: cannot re-use a name that is still in use ?", verbatim. */
const NAME_IN_USE = [
  'module.gateway.module.gateway_agent[0].helm_release.gateway_agent[0]: Creating...',
  '╷',
  '│ Error: cannot re-use a name that is still in use',
  '│',
  '│   with module.gateway.module.gateway_agent[0].helm_release.gateway_agent[0],',
  '│   on .terraform/modules/gateway.gateway_agent/gateway/modules/gateway_agent/gateway_agent.tf line 17, in resource "helm_release" "gateway_agent":',
  '│   17: resource "helm_release" "gateway_agent" {',
  '╵',
].join('\n');

const LOCK_HELD = [
  'Acquiring state lock. This may take a few moments...',
  '╷',
  '│ Error: Error acquiring the state lock',
  '│ ',
  '│ Error message: operation error S3: PutObject, https response error StatusCode: 412, RequestID: 8QF2, HostID: x,',
  '│ api error PreconditionFailed: At least one of the pre-conditions you specified did not hold',
  '│ Lock Info:',
  '│   ID:        2f1c9a4e-7b3d-4c5e-9f60-1a2b3c4d5e6f',
  '│   Path:      gateway-deployer-state-123456789012/gateways/prod/terraform.tfstate',
  '│   Operation: OperationTypeApply',
  '│   Who:       root@ip-10-0-1-23',
  '│   Version:   1.9.8',
  '│   Created:   2025-06-01 10:00:00.000000000 +0000 UTC',
  '│   Info:      ',
  '│ ',
  '│ ',
  '│ Terraform acquires a state lock to protect the state from being written',
  '│ by multiple users at the same time. Please resolve the issue above and try',
  '│ again. For most commands, you can disable locking with the "-lock=false"',
  '│ flag, but this is not recommended.',
  '╵',
].join('\n');

const STALE_PLAN = [
  '╷',
  '│ Error: Saved plan is stale',
  '│ ',
  '│ The given plan file can no longer be applied because the state was changed by another operation after the',
  '│ plan was created.',
  '╵',
].join('\n');

describe('diagnoseTerraformFailure', () => {
  /** The plan.json Plan stored: the helm_release of the FAQ's error installs `name` in `namespace`. */
  const planInstalling = (name: string, namespace: string): TerraformPlan => ({
    resource_changes: [
      {
        address: 'module.gateway.module.gateway_agent[0].helm_release.gateway_agent[0]',
        mode: 'managed',
        type: 'helm_release',
        name: 'gateway_agent',
        change: { actions: ['create'], after: { name, namespace } },
      },
    ],
  });

  test("the HOWTO's name-reuse error about the gateway's release: the FAQ's advice, with the exact helm uninstall command", () => {
    const d = diagnoseTerraformFailure(NAME_IN_USE, { plan: planInstalling('apheris-gateway', 'apheris') });
    expect(d.failure).toBe('helm-release-name-in-use');
    expect(d.advice).toContain('helm uninstall apheris-gateway -n apheris');
    expect(d.advice).toMatch(/not managed by another system/);
    expect(d.advice).toMatch(/run the deployment again/);
    expect(d.summary).toMatch(/Helm release apheris-gateway \(namespace apheris\)/);
    expect(d.firstError).toBe('cannot re-use a name that is still in use');
    expect(d.releases).toEqual([{ kind: 'gateway', name: 'apheris-gateway', namespace: 'apheris', address: 'module.gateway.module.gateway_agent[0].helm_release.gateway_agent[0]' }]);
  });

  test('the same error about another release: that release and its own command, never the gateway\'s', () => {
    const d = diagnoseTerraformFailure(NAME_IN_USE, { plan: planInstalling('prometheus', 'monitoring') });
    expect(d.failure).toBe('helm-release-name-in-use');
    expect(d.summary).toContain('prometheus (namespace monitoring)');
    expect(d.advice).toContain('helm uninstall prometheus -n monitoring');
    expect(d.advice).not.toContain('apheris-gateway -n apheris');
    expect(d.releases).toEqual([expect.objectContaining({ kind: 'other', name: 'prometheus', namespace: 'monitoring' })]);
  });

  test('the same error without the plan: the release is not assumed, and no command names one', () => {
    const d = diagnoseTerraformFailure(NAME_IN_USE);
    expect(d.failure).toBe('helm-release-name-in-use');
    expect(d.releases).toEqual([expect.objectContaining({ kind: 'unidentified' })]);
    expect(d.advice).toContain('helm uninstall <name> -n <namespace>');
    expect(d.advice).not.toContain('apheris-gateway');
  });

  test('Helm\'s words wrapped over two lines are still the name reuse', () => {
    expect(diagnoseTerraformFailure('Error: local-exec provisioner error\n\nOutput: Error: INSTALLATION FAILED: cannot re-use a name\nthat is still in use').failure).toBe(
      'helm-release-name-in-use',
    );
  });

  test('other failures carry no releases', () => {
    expect(diagnoseTerraformFailure(STALE_PLAN, { plan: planInstalling('apheris-gateway', 'apheris') })).not.toHaveProperty('releases');
  });

  test('a held state lock (with Lock Info) points at the lock and force-unlock', () => {
    const d = diagnoseTerraformFailure(LOCK_HELD);
    expect(d.failure).toBe('state-lock-held');
    expect(d.advice).toMatch(/Lock Info/);
    expect(d.advice).toMatch(/terraform force-unlock/);
    expect(d.firstError).toBe('Error acquiring the state lock');
  });

  test('a stale saved plan says to start again', () => {
    const d = diagnoseTerraformFailure(STALE_PLAN);
    expect(d.failure).toBe('stale-plan');
    expect(d.advice).toMatch(/Start the deployment again/);
    expect(d.firstError).toBe('Saved plan is stale');
  });

  test.each([
    ['AccessDenied', '│ Error: reading EKS Cluster (apheris-gateway): operation error EKS: DescribeCluster, https response error StatusCode: 403, api error AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/x/y is not authorized to perform: eks:DescribeCluster'],
    ['ExpiredToken', '│ Error: validating provider credentials: retrieving caller identity from STS: operation error STS: GetCallerIdentity, api error ExpiredToken: The security token included in the request is expired'],
    ['InvalidClientTokenId', '│ Error: configuring Terraform AWS Provider: api error InvalidClientTokenId: The security token included in the request is invalid.'],
    ['no valid credential sources', '│ Error: No valid credential sources found'],
    ['not authorized to perform', 'Error: creating IAM Role (dal): operation error IAM: CreateRole, User: x is not authorized to perform: iam:CreateRole'],
  ])('%s is a credentials failure that names the Terraform role', (_, output) => {
    const d = diagnoseTerraformFailure(`Planning...\n╷\n${output}\n╵`);
    expect(d.failure).toBe('credentials');
    expect(d.advice).toMatch(/TerraformRoleArn/);
    expect(d.advice).toMatch(/aws_auth_roles/);
    expect(d.firstError).toBe(/Error: ([^\n]+)/.exec(output)![1].trim());
  });

  test.each([
    ['the helm provider, token expired', '│ Error: Kubernetes cluster unreachable: the server has asked for the client to provide credentials'],
    ['the kubernetes provider', '│ Error: Get "https://ABC.gr7.eu-central-1.eks.amazonaws.com/api/v1/namespaces/apheris": the server has asked for the client to provide credentials'],
    ['helm release read', '│ Error: helm_release.gateway_agent: Unauthorized'],
  ])('a refused cluster token (%s) is its own class, not an IAM problem', (_, output) => {
    const d = diagnoseTerraformFailure(`Planning...\n╷\n${output}\n╵`);
    expect(d.failure).toBe('cluster-token-refused');
    expect(d.advice).toMatch(/minted while Terraform runs/);
    expect(d.advice).toMatch(/data.aws_eks_cluster_auth/);
  });

  test.each([
    ['registry unreachable', '│ Error: Failed to query available provider packages\n│ Could not retrieve the list of available versions for provider hashicorp/helm: could not connect to registry.terraform.io'],
    ['install failed', '│ Error: Failed to install provider\n│ Error while installing hashicorp/aws v5.100.0: unsuccessful request to https://releases.hashicorp.com/'],
  ])('a provider that cannot be installed (%s) is its own class', (_, output) => {
    const d = diagnoseTerraformFailure(`Initializing provider plugins...\n╷\n${output}\n╵`);
    expect(d.failure).toBe('provider-install');
    expect(d.advice).toMatch(/terraform.providerVersions/);
  });

  // Terraform 1.11's own words, as seen with a provider mirror holding another package under the pinned version.
  test.each([
    [
      'the package from a mirror or registry',
      '│ Error: Failed to install provider\n│ Error while installing hashicorp/aws v5.100.0: the local package for\n│ registry.terraform.io/hashicorp/aws 5.100.0 doesn\'t match any of the\n│ checksums previously recorded in the dependency lock file',
    ],
    [
      'the package from the plugin cache',
      '│ Error: Failed to install provider from shared cache\n│ Error while importing hashicorp/aws v5.100.0 from the shared cache directory: the provider cache at .terraform/providers has a copy of registry.terraform.io/hashicorp/aws 5.100.0 that doesn\'t match any of the checksums recorded in the dependency lock file.',
    ],
    ['a lock file other than the plan\'s', '│ Error: Inconsistent dependency lock file\n│ The given plan file was created with a different set of external dependency selections than the current configuration.'],
  ])('a provider whose checksum is not in the approved plan\'s lock file (%s) is provider-checksum, not an install problem', (_, output) => {
    const d = diagnoseTerraformFailure(`Initializing provider plugins...\n╷\n${output}\n╵`);
    expect(d.failure).toBe('provider-checksum');
    expect(d.advice).toMatch(/Nothing was applied and the package was not run/);
    expect(d.advice).toMatch(/codebuild-cache/);
  });

  test('anything else is unknown, and still names its first error', () => {
    const d = diagnoseTerraformFailure('╷\n│ Error: Unsupported argument\n│ \n│   on gateway.tf line 4\n╵\n╷\n│ Error: Missing required argument\n╵');
    expect(d.failure).toBe('unknown');
    expect(d.summary).toBe('Terraform failed');
    expect(d.advice).toMatch(/build log/);
    expect(d.firstError).toBe('Unsupported argument');
  });

  test('without any "Error:" line there is no firstError key at all', () => {
    const d = diagnoseTerraformFailure('Killed\n');
    expect(d).toEqual({ failure: 'unknown', summary: 'Terraform failed', advice: expect.any(String) });
    expect(d).not.toHaveProperty('firstError');
    expect(diagnoseTerraformFailure('')).not.toHaveProperty('firstError');
  });

  test('the first error is trimmed and stops at the end of its line', () => {
    expect(diagnoseTerraformFailure('Error: Saved plan is stale   \nmore').firstError).toBe('Saved plan is stale');
  });

  test('matching is case-insensitive', () => {
    expect(diagnoseTerraformFailure('error: CANNOT RE-USE A NAME THAT IS STILL IN USE').failure).toBe('helm-release-name-in-use');
  });

  // Reported: the lock could not be taken because the role lacks the S3/DynamoDB permission; no run holds it,
  // so "another run holds the lock ... force-unlock" sends the operator the wrong way. No Lock Info is printed.
  test('a state lock error caused by AccessDenied, without Lock Info, is a credentials failure', () => {
    const output = [
      '╷',
      '│ Error: Error acquiring the state lock',
      '│ ',
      '│ Error message: operation error S3: PutObject, https response error StatusCode: 403, RequestID: 1, HostID: 2,',
      '│ api error AccessDenied: User: arn:aws:sts::123456789012:assumed-role/gateway-deployer-terraform/x is not',
      '│ authorized to perform: s3:PutObject on resource: "arn:aws:s3:::state/gateways/prod/terraform.tfstate.tflock"',
      '│ ',
      '│ Terraform acquires a state lock to protect the state from being written',
      '│ by multiple users at the same time. Please resolve the issue above and try',
      '│ again.',
      '╵',
    ].join('\n');
    expect(diagnoseTerraformFailure(output).failure).toBe('credentials');
  });
});
