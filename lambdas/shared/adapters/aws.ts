/**
 * What every SDK client of the handlers shares. The clients themselves live one per module in ./clients/ (built
 * once per container, at the import of that module), so that a handler loads only the SDK packages it uses: this
 * module imports no client package. The endpoint comes from the SDK's own AWS_ENDPOINT_URL when a local emulator
 * stands in for AWS; S3 then needs path-style addressing, since `bucket.127.0.0.1` does not resolve.
 */
export const emulated = (): boolean => Boolean(process.env.AWS_ENDPOINT_URL);

/**
 * A call that never got an answer from AWS: the connection was refused, reset or could not be made. The SDK has
 * already retried it; the state machine retries the whole step on this name (TRANSIENT_SDK_ERRORS). Without it
 * Node's own error would reach Step Functions as plain `Error`, which no Retry names, and a network blip would
 * fail the run.
 */
export class TransientAwsError extends Error {
  override readonly name = 'TransientAwsError';
}

/** Node's codes for a connection that failed before any HTTP response (timeouts are the SDK's TimeoutError already). */
const NETWORK_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/** The error a step reports for `error`: a network failure without any response becomes a TransientAwsError. */
export function asTransientAwsError(error: unknown, call = 'AWS call'): unknown {
  // Duck-typed, not instanceof: Node's own errors may come from another realm (as under jest).
  const e = error as { name?: string; code?: string; message?: string; $response?: unknown };
  if (!e || typeof e !== 'object' || e.name === 'TransientAwsError' || e.$response !== undefined || !NETWORK_ERROR_CODES.has(e.code ?? '')) return error;
  // `code` stays, so the SDK's own retry strategy still sees a network error and retries it first.
  return Object.assign(new TransientAwsError(`${call} got no response from AWS (${e.code}): ${e.message ?? ''}`), { code: e.code, cause: error });
}

interface MiddlewareClient {
  readonly middlewareStack: {
    addRelativeTo(middleware: (next: (args: any) => Promise<any>, context: any) => (args: any) => Promise<any>, options: object): void;
  };
}

/**
 * Names network failures of every call of `client` (see TransientAwsError). Just inside the SDK's retry
 * middleware: each attempt's failure is renamed there, the SDK retries it as before, and the last one is thrown
 * as a TransientAwsError (`$metadata.attempts` counts the SDK's attempts).
 */
export function namingNetworkErrors<C extends MiddlewareClient>(client: C): C {
  client.middlewareStack.addRelativeTo(
    (next, context: { clientName?: string; commandName?: string }) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        const call = [context.clientName?.replace(/Client$/, ''), context.commandName?.replace(/Command$/, '')].filter(Boolean).join(' ');
        throw asTransientAwsError(error, call || undefined);
      }
    },
    { relation: 'after', toMiddleware: 'retryMiddleware', name: 'namingNetworkErrors', override: true },
  );
  return client;
}

const sharedClients: Array<{ destroy(): void }> = [];

/** A client of ./clients/: network failures named (namingNetworkErrors), and destroyable by destroySharedClients. */
export function sharedClient<C extends MiddlewareClient & { destroy(): void }>(client: C): C {
  sharedClients.push(client);
  return namingNetworkErrors(client);
}

/** Closes every client of ./clients/ built so far (tests, so that Jest exits without open sockets). */
export function destroySharedClients(): void {
  for (const client of sharedClients.splice(0)) client.destroy();
}

/** A required environment variable set by the stack; its absence is a wiring bug, so the message says where. */
export function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set (the stack sets it on this function)`);
  return value;
}

/** True for the SDK's "this does not exist" errors, whatever the service calls them. */
export function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string })?.name ?? '';
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return ['NoSuchKey', 'NotFound', 'NoSuchBucket', 'ResourceNotFoundException'].includes(name) || status === 404;
}
