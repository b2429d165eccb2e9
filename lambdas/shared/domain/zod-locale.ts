import { config } from 'zod/mini';
import { en } from 'zod/locales';

/**
 * The schemas of this folder are written with `zod/mini`: the same zod package, engine and checks as `zod`, but a
 * functional API that esbuild can tree-shake, so a Lambda bundle carries only the checks it uses (about 30 KB
 * instead of the whole ~100 KB library; see docs/performance.md).
 *
 * Unlike `zod`, `zod/mini` does not install the English messages by itself, and without them every default
 * message would read "Invalid input". Every module that declares a schema imports this one first, so the
 * messages are the same in a Lambda bundle, in the CLI and at synth (the en locale is what `zod` installs).
 */
config(en());

/**
 * Two messages in the operator's words instead of zod's, for the mistakes a hand-written YAML config makes most:
 * a field left out, and digits YAML read as a number where text is expected (an account id with a leading zero,
 * a version). The value itself is never repeated: the same schemas check the values secret.
 */
config({
  customError: (issue) => {
    if (issue.code !== 'invalid_type') return undefined;
    if (issue.input === undefined) return 'required';
    if (issue.expected === 'string' && typeof issue.input === 'number') {
      return 'expected text, not a number: quote it (YAML reads unquoted digits as a number and drops leading zeros)';
    }
    return undefined;
  },
});
