/**
 * Known ways a Terraform run fails, recognized in its (redacted) output, each with the advice an operator
 * needs. The name-reuse advice is the seed's own FAQ.
 */

export type FailureClass = 'helm-release-name-in-use' | 'state-lock-held' | 'stale-plan' | 'credentials' | 'unknown';

export interface FailureDiagnosis {
  readonly failure: FailureClass;
  readonly summary: string;
  readonly advice: string;
  /** The first Terraform "Error:" line, for the notification's subject line. */
  readonly firstError?: string;
}

const RULES: ReadonlyArray<{ readonly failure: Exclude<FailureClass, 'unknown'>; readonly pattern: RegExp; readonly summary: string; readonly advice: string }> = [
  {
    failure: 'helm-release-name-in-use',
    pattern: /cannot re-use a name that is still in use/i,
    summary: 'a Helm release of that name exists on the cluster but not in the Terraform state',
    advice:
      'Make sure the Helm release is not managed by another system first. Then uninstall it ' +
      '(helm uninstall apheris-gateway -n apheris) and run the deployment again.',
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
    failure: 'credentials',
    pattern: /(Unauthorized|AccessDenied|not authorized to perform|InvalidClientTokenId|ExpiredToken|no valid credential sources|error validating provider credentials)/i,
    summary: 'the deployer role is not allowed to do what the plan needs',
    advice:
      'Check the Terraform role (stack output TerraformRoleArn): its IAM permissions, and that it is in aws_auth_roles ' +
      'so it can reach the cluster.',
  },
];

export function diagnoseTerraformFailure(output: string): FailureDiagnosis {
  const firstError = /Error: ([^\n]+)/.exec(output)?.[1]?.trim();
  const rule = RULES.find((r) => r.pattern.test(output));
  const base = rule
    ? { failure: rule.failure, summary: rule.summary, advice: rule.advice }
    : { failure: 'unknown' as const, summary: 'Terraform failed', advice: 'Read the build log; contact the vendor\'s support if the error is in the gateway module.' };
  return firstError ? { ...base, firstError } : base;
}
