/** Docker's log stream framing: without a TTY, stdout and stderr are multiplexed with 8-byte headers. */
import { PassThrough, type Readable } from 'node:stream';

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

/** Removes the multiplexing headers from a live log stream, as it arrives. */
export function demuxLogStream(source: Readable): Readable {
  const output = new PassThrough();
  let pending = Buffer.alloc(0);
  source.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= HeaderBytes) {
      const size = pending.readUInt32BE(4);
      if (pending.length < HeaderBytes + size) break;
      output.write(pending.subarray(HeaderBytes, HeaderBytes + size));
      pending = pending.subarray(HeaderBytes + size);
    }
  });
  source.on('end', () => output.end());
  source.on('error', (err) => output.destroy(err));
  output.on('close', () => source.destroy());
  return output;
}
