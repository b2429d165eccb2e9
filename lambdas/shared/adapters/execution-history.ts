import { GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import { sfn } from './clients/sfn';
import type { LastState } from '../domain/run-end';
import type { RunState } from '../domain/run-state';

/** The last state the execution entered, with its input. */
export async function lastState(executionArn: string): Promise<LastState | null> {
  // Newest first: the first state entered is where the run was when it ended.
  const out = await sfn.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 100, includeExecutionData: true }));
  const entered = (out.events ?? []).find((e) => e.stateEnteredEventDetails?.name);
  if (!entered?.stateEnteredEventDetails?.name) return null;
  let state: RunState = {};
  try {
    state = JSON.parse(entered.stateEnteredEventDetails.input ?? '{}') as RunState;
  } catch {
    // A truncated input: the step's name is still known.
  }
  return { name: entered.stateEnteredEventDetails.name, state };
}
