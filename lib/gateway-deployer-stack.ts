import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { GatewayConfig } from './config';
import { GatewayDeployer } from './gateway-deployer';

export interface GatewayDeployerStackProps extends StackProps {
  readonly config: GatewayConfig;
}

/**
 * The stack `cdk deploy` makes from this repository: one GatewayDeployer. Its id "Default" keeps it out of the logical
 * ids (CDK leaves a "Default" path segment out of them), so the resources are named as when the stack built them itself.
 */
export class GatewayDeployerStack extends Stack {
  readonly deployer: GatewayDeployer;

  constructor(scope: Construct, id: string, props: GatewayDeployerStackProps) {
    super(scope, id, props);
    this.deployer = new GatewayDeployer(this, 'Default', { config: props.config });
  }

  get artifacts() {
    return this.deployer.artifacts;
  }
  get notifications() {
    return this.deployer.notifications;
  }
  get terraform() {
    return this.deployer.terraform;
  }
  get workflow() {
    return this.deployer.workflow;
  }
  get approverPolicy() {
    return this.deployer.approverPolicy;
  }
  get operatorPolicy() {
    return this.deployer.operatorPolicy;
  }
}
