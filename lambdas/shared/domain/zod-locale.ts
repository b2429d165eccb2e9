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
