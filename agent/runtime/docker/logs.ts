/** Docker's log stream framing: without a TTY, stdout and stderr are multiplexed with 8-byte headers. */
import { pipeline, Transform, type Readable } from 'node:stream';

const HeaderBytes = 8;

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
  let pending: Buffer = Buffer.alloc(0);
  const output = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= HeaderBytes) {
        const size = pending.readUInt32BE(4);
        if (pending.length < HeaderBytes + size) break;
        this.push(pending.subarray(HeaderBytes, HeaderBytes + size));
        pending = pending.subarray(HeaderBytes + size);
      }
      done();
    },
  });
  pipeline(source, output, () => undefined);
  return output;
}
