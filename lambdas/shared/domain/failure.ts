/**
 * What operators need when a run fails: which step, what went wrong in plain words, where the log is, and what
 * to do next. Step Functions hands over only an error name and a cause string (JSON for Lambda and CodeBuild
 * failures); this turns them into that.
 */

export interface CauseDetails {
  /** One or two sentences, no stack trace. */
  readonly message: string;
  readonly buildId?: string;
  readonly logLink?: string;
  readonly logGroup?: string;
  readonly logStream?: string;
  /** A build's own status: TIMED_OUT or STOPPED means it was killed, and may have left Terraform's lock. */
  readonly buildStatus?: string;
}

interface BuildLike {
  readonly Id?: string;
  readonly BuildStatus?: string;
  readonly Logs?: { readonly DeepLink?: string; readonly GroupName?: string; readonly StreamName?: string };
  readonly Phases?: ReadonlyArray<{ readonly PhaseType?: string; readonly PhaseStatus?: string; readonly Contexts?: ReadonlyArray<{ readonly Message?: string }> }>;
}

export function describeCause(cause: string | undefined): CauseDetails {
  if (!cause) return { message: 'no cause was given' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(cause);
  } catch {
    return { message: cause.slice(0, 1000) };
  }
  if (parsed && typeof parsed === 'object') {
    const o = parsed as { errorMessage?: string; Build?: BuildLike } & BuildLike;
    if (typeof o.errorMessage === 'string') return { message: o.errorMessage.slice(0, 2000) };
    const build = o.Build ?? (o.BuildStatus ? o : undefined);
    if (build) {
      const phase = build.Phases?.find((p) => p.PhaseStatus && p.PhaseStatus !== 'SUCCEEDED');
      const context = phase?.Contexts?.map((c) => c.Message).filter(Boolean).join('; ');
      return {
        message: `build ${build.Id ?? '?'} ${build.BuildStatus ?? 'FAILED'}${phase ? ` in phase ${phase.PhaseType}` : ''}${context ? `: ${context}` : ''}`,
        ...(build.Id ? { buildId: build.Id } : {}),
        ...(build.BuildStatus ? { buildStatus: build.BuildStatus } : {}),
        ...(build.Logs?.DeepLink ? { logLink: build.Logs.DeepLink } : {}),
        ...(build.Logs?.GroupName ? { logGroup: build.Logs.GroupName } : {}),
        ...(build.Logs?.StreamName ? { logStream: build.Logs.StreamName } : {}),
      };
    }
  }
  return { message: cause.slice(0, 1000) };
}

/** What to do next, by error name, when no build left a more specific diagnosis. */
const ADVICE: Readonly<Record<string, string>> = {
  InputError: 'Correct the execution input (see the README, "Starting a deployment") and start a new run.',
  ConfigError: 'Correct the gateway config and redeploy the stack with cdk deploy.',
  BundleError: 'Upload the gateway-<version>.zip exactly as the vendor delivered it under the releases prefix, and start a new run.',
  ValuesError: 'Store the values.yaml from the Bitwarden link, unchanged, as the values secret, and start a new run.',
  IdentityError: 'Deploy the stack into the target account of the gateway config, and use an IAM role rather than the root user.',
  VersionError: 'Start the run with the version you mean, or allow the redeploy or downgrade in the input if it is intended.',
  NodePoolError: 'Add the nvidia.com/gpu NoSchedule taint to the GPU node pool in the config.',
  VerificationError:
    'Check the agent as the HOWTO describes (kubectl get deployment -l apheris-component=agent -n apheris; helm test apheris-gateway -n apheris) ' +
    'and contact your Apheris representative if the version or the connectivity is not as communicated.',
  ApprovalRejected: 'Nothing was applied. Start a new run when the plan is what you expect.',
  ApprovalTimedOut: 'Nothing was applied. Start a new run and approve or reject within the approval timeout.',
  ApprovalNotValid:
    'Nothing was applied. The run was woken without a valid decision of the approval function (a SendTaskSuccess with the task token from ' +
    'the execution history, or an approval of another plan): find out who sent it (CloudTrail, states:SendTaskSuccess), then start a new run ' +
    'and approve it with npx gateway-deployer approve.',
  TriggerNotProven:
    'Nothing was done. Only the release trigger starts runs marked "trigger": "s3"; start the run from the console or the CLI without "trigger".',
  'States.Timeout': 'The step took longer than allowed; look at its log and start a new run.',
  ExecutionTimedOut:
    'The run outlived the state machine\'s timeout (every approval wait and build at its limit). Check the step it was in, ' +
    'then start a new run; answer approval requests within approval.timeoutHours.',
  ExecutionAborted: 'Someone stopped the run. If that was not intended, find out who (CloudTrail, states:StopExecution) and start a new run.',
  DeploymentInProgress:
    'Nothing was done. Wait for the running execution named above to finish (npx gateway-deployer status), then start again.',
  ReleaseManagedElsewhere:
    'Nothing was uninstalled. Hand the apheris-gateway release over from the system that manages it (or remove it there), then start a new run.',
};

export function adviceFor(error: string | undefined, stepAdvice?: string): string {
  if (stepAdvice) return stepAdvice;
  return (error && Object.hasOwn(ADVICE, error) ? ADVICE[error] : undefined) ?? 'Look at the log of the failed step; start a new run once the cause is fixed.';
}
