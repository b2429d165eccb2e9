import { OperatorError } from '../../lambdas/shared/operator/cli-commands';

/** The OperatorError a command's promise rejects with (its message and exit code are what operators see). */
export async function rejection(promise: Promise<unknown>): Promise<OperatorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OperatorError);
  return error as OperatorError;
}
