import { GetObjectCommand } from '@aws-sdk/client-s3';
import { env } from '../shared/adapters/aws';
import { s3 } from '../shared/adapters/clients/s3';
import { logger } from '../shared/adapters/logger';
import { runAnalyze, type AnalyzeEvent, type PlanAnalysis } from './analyze';

const artifactsBucket = env('ARTIFACTS_BUCKET');

async function readJson(key: string): Promise<unknown> {
  const out = await s3.send(new GetObjectCommand({ Bucket: artifactsBucket, Key: key }));
  return JSON.parse(await out.Body!.transformToString('utf-8'));
}

export async function handler(event: AnalyzeEvent): Promise<PlanAnalysis> {
  const analysis = await runAnalyze(event, readJson);
  logger.info('plan analyzed', { line: analysis.line, risk: analysis.risk.level, decision: analysis.decision });
  return analysis;
}
