import { ConfigError } from '../shared/domain/errors';
import { parseConfigJson } from '../shared/domain/gateway-config';
import { renderWorkspace, resolveBackend } from '../shared/domain/workspace';

/** The HOWTO's "Adding necessary Terraform files", written to S3 under the run's workspace prefix. */

export interface RenderEvent {
  readonly config: string;
  /** The Step Functions execution name: one workspace per run, so a rerun never mixes files. */
  readonly runId: string;
  readonly preflight: { readonly gateway: string; readonly customGatewayTf?: { readonly key: string; readonly versionId?: string } };
}

export interface RenderResult {
  readonly workspacePrefix: string;
  readonly files: string[];
  readonly backend: { readonly bucket: string; readonly key: string; readonly region: string };
}

export interface RenderPorts {
  readText(key: string, versionId?: string): Promise<string>;
  write(key: string, content: string): Promise<void>;
}

export interface StackResources {
  readonly stateBucket: string;
  readonly stateKmsKeyArn?: string;
  readonly deployerRoleArn?: string;
  readonly planRoleArn?: string;
}

const MAX_CUSTOM_GATEWAY_TF_BYTES = 256 * 1024;

export async function runRender(event: RenderEvent, ports: RenderPorts, stack: StackResources): Promise<RenderResult> {
  const config = parseConfigJson(event.config);
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(event.runId)) {
    throw new ConfigError(`run id "${event.runId}" is not a Step Functions execution name`);
  }
  const custom = event.preflight.customGatewayTf;
  const customGatewayTf = custom ? await ports.readText(custom.key, custom.versionId) : undefined;
  if (customGatewayTf !== undefined && Buffer.byteLength(customGatewayTf) > MAX_CUSTOM_GATEWAY_TF_BYTES) {
    throw new ConfigError(`customized gateway.tf ${custom!.key} is larger than ${MAX_CUSTOM_GATEWAY_TF_BYTES} bytes`);
  }
  const backend = resolveBackend(config, stack.stateBucket, stack.stateKmsKeyArn);
  const files = renderWorkspace({
    config,
    backend,
    ...(stack.deployerRoleArn ? { deployerRoleArn: stack.deployerRoleArn } : {}),
    ...(stack.planRoleArn ? { planRoleArn: stack.planRoleArn } : {}),
    ...(customGatewayTf !== undefined ? { customGatewayTf } : {}),
  });
  const workspacePrefix = `workspaces/${config.gatewayName}/${event.runId}/`;
  for (const file of files) {
    await ports.write(`${workspacePrefix}${file.name}`, file.content);
  }
  return {
    workspacePrefix,
    files: files.map((f) => f.name),
    backend: { bucket: backend.bucket, key: backend.key, region: backend.region },
  };
}
