/**
 * Docker's stream framing, for logs, execs and attaches alike: without a TTY, stdout and stderr
 * are multiplexed with 8-byte headers (the stream's number, then the payload's length).
 */
import { pipeline, Transform, type Readable } from 'node:stream';

const HeaderBytes = 8;
/** The header's first byte for stderr; 1 is stdout, and 0 (stdin) is written on stdout too. */
const StderrStream = 2;

export interface Frame {
  stream: 'stdout' | 'stderr';
  payload: Buffer;
}

/** Cuts whole frames out of a stream's chunks as they come, keeping a partial frame for the next chunk. */
export class FrameReader {
  #pending: Buffer = Buffer.alloc(0);

  *frames(chunk: Buffer): Generator<Frame> {
    let pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (pending.length >= HeaderBytes) {
      const size = pending.readUInt32BE(4);
      if (pending.length < HeaderBytes + size) break;
      yield { stream: pending[0] === StderrStream ? 'stderr' : 'stdout', payload: pending.subarray(HeaderBytes, HeaderBytes + size) };
      pending = pending.subarray(HeaderBytes + size);
    }
    this.#pending = pending;
  }
}

/** Removes the multiplexing headers from a complete log buffer. */
export function demuxLogBuffer(buffer: Buffer): Buffer {
  const chunks: Buffer[] = [];
  let offset = 0;
  while (offset + HeaderBytes <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    chunks.push(buffer.subarray(offset + HeaderBytes, offset + HeaderBytes + size));
    offset += HeaderBytes + size;
  }
  return Buffer.concat(chunks);
}

/**
 * Removes the multiplexing headers from a live log stream, as it arrives, at the reader's pace:
 * a slow reader holds the source back (the transform's backpressure) instead of the frames
 * piling up in memory. Destroying the result (the client went away) destroys the source.
 */
export function demuxLogStream(source: Readable): Readable {
  const reader = new FrameReader();
  const output = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      for (const frame of reader.frames(chunk)) this.push(frame.payload);
      done();
    },
  });
  pipeline(source, output, () => undefined);
  return output;
}
