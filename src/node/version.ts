/**
 * The package's version, read once from its `package.json` (two folders up from this file,
 * both in `src/node` and in the built `dist/node`), for `--version`, `/status` and the
 * metrics' build info.
 */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The `version` of Flotilla's `package.json`, e.g. `0.1.0`. */
export function packageVersion(): string {
  if (cached === undefined) {
    const url = new URL('../../package.json', import.meta.url);
    const parsed = JSON.parse(readFileSync(url, 'utf8')) as { version?: unknown };
    cached = typeof parsed.version === 'string' ? parsed.version : '0.0.0';
  }
  return cached;
}
