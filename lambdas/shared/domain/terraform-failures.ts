/**
 * Known ways a Terraform run fails, recognized in its (redacted) output, each with the advice an operator
 * needs. The name-reuse advice is the HOWTO's own FAQ when the release is the gateway's, and names the release the
 * error is about otherwise (helm-name-reuse.ts).
 */
import { NAME_IN_USE, describeNameReuse, failingReleases, type FailingRelease } from './helm-name-reuse';
import type { TerraformPlan } from './plan';

export type FailureClass =
  | 'helm-release-name-in-use'
  | 'state-lock-held'
  | 'stale-plan'
  | 'cluster-token-refused'
  | 'provider-checksum'
  | 'provider-install'
  | 'credentials'
  | 'unknown';

export interface FailureDiagnosis {
  readonly failure: FailureClass;
  readonly summary: string;
  readonly advice: string;
  /** The first Terraform "Error:" line, for the notification's subject line. */
  readonly firstError?: string;
  /** helm-release-name-in-use only: the release(s) the error is about, as far as the error and the plan tell. */
  readonly releases?: readonly FailingRelease[];
}

export interface FailureContext {
  /** The run's (redacted) plan: its resource_changes give the failing helm_release's name and namespace. */
  readonly plan?: TerraformPlan | null;
}

const RULES: ReadonlyArray<{ readonly failure: Exclude<FailureClass, 'unknown'>; readonly pattern: RegExp; readonly summary: string; readonly advice: string }> = [
  {
    failure: 'helm-release-name-in-use',
    pattern: NAME_IN_USE,
    // Replaced by describeNameReuse, which names the release the error is about.
    summary: 'a Helm release of that name exists on the cluster but not in the Terraform state',
    advice: 'Make sure the Helm release is not managed by another system first, then uninstall it and run the deployment again.',
  },
  {
    failure: 'state-lock-held',
    // Only with Lock Info: the same error without it is a permission problem, not another run.
    pattern: /Error acquiring the state lock[\s\S]*Lock Info/i,
    summary: 'another run holds the Terraform state lock',
    advice:
      'Wait for the other run to finish. If no run is active, the lock is stale: check who holds it (the Lock Info ' +
      'in the log) before removing it with terraform force-unlock.',
  },
  {
    failure: 'stale-plan',
    pattern: /Saved plan is stale/i,
    summary: 'the Terraform state changed after the plan was made',
    advice: 'Start the deployment again so a new plan is made and reviewed against the current state.',
  },
  {
    // Before `credentials`: the cluster answering Unauthorized is about the token the Kubernetes providers present,
    // not about IAM permissions, and sending operators to IAM for it was the wrong lead.
    failure: 'cluster-token-refused',
    pattern: /(the server has asked for the client to provide credentials|Kubernetes cluster unreachable[^\n]*(Unauthorized|credentials)|(helm|kubectl|kubernetes)[^\n]*\bUnauthorized\b)/i,
    summary: 'the EKS cluster refused the token Terraform presented',
    advice:
      'The cluster token is minted while Terraform runs (an ephemeral aws_eks_cluster_auth); EKS refuses one older than ' +
      '15 minutes or signed by a principal it does not map. Check that the Terraform role (stack output TerraformRoleArn) ' +
      'is in aws_auth_roles (for Plan: PlanRoleArn), that the build\'s clock is right, and that a customized gateway.tf or ' +
      'the module itself does not read the token through data.aws_eks_cluster_auth, whose token is frozen at Plan.',
  },
  {
    // Before `provider-install`, whose "Failed to install provider" heads the same message.
    failure: 'provider-checksum',
    // Terraform wraps this message at 78 columns inside its │ box: any run of spaces, newlines and │ between words.
    pattern: /((doesn't|does not)[\s│]+match[\s│]+any[\s│]+of[\s│]+the[\s│]+checksums[\s│]+(previously[\s│]+)?recorded|Inconsistent dependency lock file)/i,
    summary: 'a provider package is not the one the approved plan was made with (its checksum is not in the plan\'s lock file)',
    advice:
      'Nothing was applied and the package was not run. Apply installs providers only against the checksums inside the ' +
      'approved plan; this one came from a changed registry answer, provider mirror or build cache (codebuild-cache/ in ' +
      'the artifacts bucket). Find out who changed it (CloudTrail, S3 server access logs), then start a new run.',
  },
  {
    failure: 'provider-install',
    pattern: /(Failed to install provider|Failed to query available provider packages|could not query provider registry|Failed to (retrieve|load) provider)/i,
    summary: 'Terraform could not install a provider',
    advice:
      'The builds install the providers of terraform.providerVersions from registry.terraform.io: check the build\'s ' +
      'outbound HTTPS (NAT, proxy, VPC endpoints) and that the versions exist.',
  },
  {
    failure: 'credentials',
    pattern: /(Unauthorized|AccessDenied|not authorized to perform|InvalidClientTokenId|ExpiredToken|no valid credential sources|error validating provider credentials)/i,
    summary: 'the deployer role is not allowed to do what the plan needs',
    advice:
      'Check the Terraform role (stack output TerraformRoleArn): its IAM permissions, and that it is in aws_auth_roles ' +
      'so it can reach the cluster.',
  },
];

export function diagnoseTerraformFailure(output: string, context: FailureContext = {}): FailureDiagnosis {
  const firstError = /Error: ([^\n]+)/.exec(output)?.[1]?.trim();
  const rule = RULES.find((r) => r.pattern.test(output));
  const base: FailureDiagnosis = rule
    ? { failure: rule.failure, summary: rule.summary, advice: rule.advice }
    : { failure: 'unknown' as const, summary: 'Terraform failed', advice: 'Read the build log; contact the vendor\'s support if the error is in the gateway module.' };
  const named = base.failure === 'helm-release-name-in-use' ? nameReuseDiagnosis(output, context.plan) : base;
  return firstError ? { ...named, firstError } : named;
}

/** The name reuse, about the release(s) the error and the plan name: never a release assumed from the HOWTO. */
function nameReuseDiagnosis(output: string, plan: TerraformPlan | null | undefined): FailureDiagnosis {
  const releases = failingReleases(output, plan);
  return { failure: 'helm-release-name-in-use', ...describeNameReuse(releases), releases };
}
