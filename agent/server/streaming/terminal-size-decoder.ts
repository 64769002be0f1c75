/**
 * The resize stream of remotecommand (v3 on SPDY, channel 4 on WebSocket): JSON objects one
 * after another, `{"Width":80,"Height":24}`, which upstream reads with a json.Decoder into
 * remotecommand.TerminalSize. Like that decoder, field names match without regard to case, a
 * missing field is 0, and the first thing that is not such an object ends the stream.
 */
import type { Readable } from 'node:stream';
import type { TerminalSize } from '../../runtime/runtime.js';

const maxDimension = 0xffff;

/** Where the JSON value starting at `start` (an object) ends, or -1 if it is not complete yet. */
function objectEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '{' || char === '[') depth++;
    else if (char === '}' || char === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

function dimension(value: unknown): number | undefined {
  if (value === undefined) return 0;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= maxDimension ? value : undefined;
}

/** A TerminalSize from one decoded value, or undefined when Go would fail to decode it. */
function toSize(value: unknown): TerminalSize | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const fields = new Map(Object.entries(value).map(([key, field]) => [key.toLowerCase(), field as unknown]));
  const width = dimension(fields.get('width'));
  const height = dimension(fields.get('height'));
  return width === undefined || height === undefined ? undefined : { width, height };
}

/** Calls `onSize` for each size read from `stream` until it ends or holds something else. */
export function readTerminalSizes(stream: Readable, onSize: (size: TerminalSize) => void): void {
  let pending = '';
  const stop = (): void => {
    stream.off('data', onData);
    stream.resume();
  };
  const onData = (chunk: Buffer): void => {
    pending += chunk.toString('utf8');
    for (;;) {
      const start = pending.search(/\S/);
      if (start === -1) {
        pending = '';
        return;
      }
      if (pending[start] !== '{') return stop();
      const end = objectEnd(pending, start);
      if (end === -1) return;
      let size: TerminalSize | undefined;
      try {
        size = toSize(JSON.parse(pending.slice(start, end)));
      } catch {
        size = undefined;
      }
      if (!size) return stop();
      pending = pending.slice(end);
      onSize(size);
    }
  };
  stream.on('data', onData);
}
