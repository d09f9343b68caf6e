// Where a sandbox's files are: the handler module the user names, and the thread entry that
// loads it (sandbox-thread.mjs in the sources, dist/sandbox-thread.js when built).
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DocketError } from '@docket/protocol';
import { describe } from '@docket/protocol/internal';

/** The thread entry next to this module: dist/sandbox-thread.js when built, src/sandbox-thread.mjs in the sources. */
export function defaultThreadFile(): URL {
  // import.meta.url is empty in the CommonJS build; __filename exists there instead.
  const here: string = typeof import.meta.url === 'string' ? import.meta.url : pathToFileURL(__filename).href;
  const candidates = ['./sandbox-thread.js', './sandbox-thread.mjs'].map((name) => new URL(name, here));
  const found = candidates.find((url) => existsSync(url));
  if (found === undefined) {
    throw new DocketError(
      'INVALID_ARGUMENT',
      `Cannot find the sandbox thread entry (${candidates.map((u) => fileURLToPath(u)).join(' or ')}); ` +
        'if @docket/consumer is bundled into your application, copy dist/sandbox-thread.js beside the bundle or pass `threadFile`',
    );
  }
  return found;
}

/** An absolute path or a file: URL, as a file: URL. */
export function toFileUrl(name: string, value: unknown): URL {
  let url: URL | undefined;
  if (value instanceof URL) url = value;
  else if (typeof value === 'string' && value.startsWith('file:')) {
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
  } else if (typeof value === 'string' && isAbsolute(value)) url = pathToFileURL(value);
  if (url?.protocol !== 'file:') {
    throw new DocketError('INVALID_ARGUMENT', `Expected \`${name}\` to be an absolute path or a file: URL, got \`${value instanceof URL ? value.href : describe(value)}\``);
  }
  return url;
}

