/**
 * spdy-transport 3 ships no types. This declares only what the streaming layer (and its tests'
 * client) uses, including the few internals spdy-session.ts adjusts for Go peers.
 */
declare module 'spdy-transport' {
  import type { EventEmitter } from 'node:events';
  import type { Duplex } from 'node:stream';

  /** One side (send or recv) of a flow-control window. */
  interface WindowSide extends EventEmitter {
    getDelta(): number;
    update(size: number): void;
  }

  interface Stream extends Duplex {
    readonly id: number;
    /** Lower-case names; a repeated header is an array. */
    readonly headers: Record<string, string | string[]>;
    /** SYN_REPLY on a stream the peer opened. */
    respond(status: number, headers: Record<string, string>, callback?: (err?: Error | null) => void): void;
    /** RST_STREAM (CANCEL). */
    abort(callback?: () => void): void;
    _spdyState: { window: { send: WindowSide } };
  }

  interface RequestOptions {
    method: string;
    path: string;
    headers: Record<string, string>;
  }

  interface Parser extends Duplex {
    parseKVs(buffer: unknown, callback: (err: Error | null, headers?: Record<string, string | string[]>) => void): void;
    kill(): void;
  }

  interface Framer extends Duplex {
    dump(): void;
    headersToDict(headers: Record<string, unknown>, preprocess: ((headers: Record<string, unknown>) => void) | null, callback: (err: Error | null, chunks?: unknown) => void): void;
    settingsFrame(settings: Record<string, number>, callback?: () => void): void;
    windowUpdateFrame(frame: { id: number; delta: number }, callback?: () => void): void;
  }

  interface Connection extends EventEmitter {
    start(version: number): void;
    request(options: RequestOptions, callback: (err: Error | null, stream: Stream) => void): Stream;
    _spdyState: { parser: Parser; framer: Framer };
  }

  interface ConnectionOptions {
    protocol: 'spdy';
    isServer: boolean;
  }

  /** CommonJS: Node gives ESM importers the exports object as the default export only. */
  const transport: { connection: { create(socket: Duplex, options: ConnectionOptions): Connection } };
  export default transport;
  export type { Connection, Stream };
}
