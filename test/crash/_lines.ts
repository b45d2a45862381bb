/**
 * Line-wise reading of a child's output, shared by the two crash drivers (crash.ts and
 * store_crash.ts): their children speak one command per line on stdout.
 */
import type { Readable } from 'node:stream';

/** Calls `onLine` for every complete line `stream` writes, in order, without the newline. */
export function forEachLine(stream: Readable, onLine: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) onLine(line);
  });
}
