/**
 * Typed domain errors. Step Functions sees `name` as the state's Error and the message in its Cause, so the
 * name says which deliverable is wrong and the message says exactly what to change. No message ever carries a
 * secret value: callers name keys, files and versions, never the values of the values secret.
 */
export abstract class DeploymentError extends Error {
  /** Transient errors are retried by the state machine; all others fail the run at once. */
  readonly retryable: boolean = false;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The execution input does not match the schema. */
export class InputError extends DeploymentError {}

/** The gateway configuration (synth time, or the settings a task receives) is invalid. */
export class ConfigError extends DeploymentError {}

/** The gateway-<version>.zip bundle is missing, unsafe or incomplete. */
export class BundleError extends DeploymentError {}

/** The values secret (the Helm values.yaml) is missing, malformed or still holds placeholders. */
export class ValuesError extends DeploymentError {}

/** The AWS identity running the deployment is not the one the configuration targets. */
export class IdentityError extends DeploymentError {}

/** The requested version is a downgrade or a redeploy that the input did not allow. */
export class VersionError extends DeploymentError {}

/** A Karpenter node pool would let non-GPU computations land on GPU nodes. */
export class NodePoolError extends DeploymentError {}

/** A run claims to be started by the release trigger ("trigger": "s3") without the trigger's proof. */
export class TriggerNotProven extends DeploymentError {}
