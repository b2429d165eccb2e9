/**
 * Running the real handlers in a test: they read their settings and build their SDK clients at import time,
 * so tests set the environment first, import, and close those clients at the end.
 */

/** Sends every console line (where Powertools writes with POWERTOOLS_DEV=true) into `lines`. */
export function captureConsole(lines: string[] = []): string[] {
  for (const method of ['debug', 'info', 'warn', 'error', 'log'] as const) {
    jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    });
  }
  return lines;
}

/** Closes the shared adapter clients (adapters/clients/*) the handlers created, so Jest exits without open sockets. */
export async function destroyAdapterClients(): Promise<void> {
  (await import('../../../lambdas/shared/adapters/aws')).destroySharedClients();
}
