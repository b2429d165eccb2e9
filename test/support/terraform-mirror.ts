import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * A Terraform CLI config that installs hashicorp/aws from the machine's filesystem mirror (the image has one under
 * /opt/tf-plugins; TF_PROVIDER_MIRROR names another) and nothing from the network. Terraform links the provider from
 * the mirror, it does not copy its ~700 MB. Throws, saying how to get it, when the mirror is not there.
 */
export function awsProviderMirrorConfig(dir: string): string {
  const mirror = process.env.TF_PROVIDER_MIRROR || '/opt/tf-plugins';
  const provider = path.join(mirror, 'registry.terraform.io', 'hashicorp', 'aws');
  if (!fs.existsSync(provider) || fs.readdirSync(provider).length === 0) {
    throw new Error(
      `no hashicorp/aws provider under ${provider}: these tests install it from a Terraform filesystem mirror (the machine ` +
        "image has one at /opt/tf-plugins; find another with find / -name 'terraform-provider-aws_v*' and set TF_PROVIDER_MIRROR " +
        'to the folder that holds registry.terraform.io/)',
    );
  }
  const file = path.join(dir, 'mirror.tfrc');
  fs.writeFileSync(
    file,
    [
      'provider_installation {',
      `  filesystem_mirror {\n    path    = ${JSON.stringify(mirror)}\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }`,
      '  direct {\n    exclude = ["registry.terraform.io/hashicorp/aws"]\n  }',
      '}',
      '',
    ].join('\n'),
  );
  return file;
}

/** The providers of the rendered providers.tf.json that cannot be installed offline. */
export const OFFLINE_PROVIDERS = ['helm', 'kubectl', 'kubernetes'] as const;

/** The rendered providers.tf.json less the providers that cannot be had offline (OFFLINE_PROVIDERS). */
export function withoutOfflineProviders(rendered: unknown): unknown {
  const copy = structuredClone(rendered) as { terraform: { required_providers: Record<string, unknown> }; provider: Record<string, unknown> };
  for (const name of OFFLINE_PROVIDERS) {
    delete copy.terraform.required_providers[name];
    delete copy.provider[name];
  }
  return copy;
}

/**
 * emulator_override.tf.json: the AWS provider pointed at the emulator by Terraform's override mechanism, so the
 * rendered providers.tf.json itself stays as it runs in AWS.
 */
export function emulatorOverride(endpoint: string): unknown {
  return { provider: { aws: { endpoints: { sts: endpoint, eks: endpoint, iam: endpoint, ec2: endpoint }, skip_metadata_api_check: true } } };
}
