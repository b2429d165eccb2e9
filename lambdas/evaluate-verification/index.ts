import { env } from '../shared/adapters/aws';
import { logger } from '../shared/adapters/logger';
import type { BuildResult } from '../shared/domain/build-result';
import { evaluateVerification, type Evaluation } from '../shared/domain/evaluation';

const artifactsBucket = env('ARTIFACTS_BUCKET');

export interface EvaluateEvent {
  readonly preflight: { readonly expectedAgentVersion?: string };
  readonly verify: BuildResult;
}

export async function handler(event: EvaluateEvent): Promise<Evaluation> {
  const evaluation = evaluateVerification(event.verify, event.preflight.expectedAgentVersion, artifactsBucket);
  logger.info('verification passed', { agentVersion: evaluation.agentVersion, versionCompared: evaluation.versionCompared });
  return evaluation;
}
