/**
 * One HTTP/1.1 exchange on a connection of its own, closed after it (the kubelet's probe
 * transport disables keep-alives; nothing here reuses a hook's either). node:http spends most
 * of a probe's CPU on machinery a probe never uses (an agent, streams, request and response
 * objects); this writes the request in one piece and reads the response with a small parser,
 * strict where Go's net/http client is and saying what it says (the texts of Go 1.23's
 * ReadResponse and its transfer and chunked readers). Only what a probe needs is kept: the
 * status code, Location, and the first bytes of the body.
 *
 * The response, as Go reads it:
 * - status line `HTTP/d.d ddd reason`; anything else fails ("malformed HTTP response", "...
 *   status code", "... version"); in the head a bare LF ends a line as CRLF does (not in a
 *   chunk-size line);
 * - header lines `name: value`, name a token (a space before the colon is tolerated and the
 *   field ignored, as Go does), no control characters in the value; a line starting with a
 *   space or tab continues the previous one (obsolete folding, joined with one space); at most
 *   10 MiB of head;
 * - 1xx responses other than 101 are skipped (at most 5); 1xx, 204 and 304 have no body;
 * - the body: chunked (HTTP/1.1 and later; the only transfer coding accepted), else
 *   Content-Length (several must agree), else until the server closes;
 * - a failure before the head is complete fails the exchange; one while reading the body is
 *   returned beside what was read (Go returns it from the body's Read).
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { errorMessage } from '../../common/api/errors.js';

export interface Endpoint {
  secure: boolean;
  /** A name or an address (an IPv6 one without brackets). */
  host: string;
  port: number;
}

export interface ResponseHead {
  statusCode: number;
  /** The first Location header, as the server wrote it (trimmed). */
  location: string | undefined;
  /** The body's length when the server gave it, else -1. */
  contentLength: number;
}

export interface Exchange extends ResponseHead {
  /** The first bytes of the body, at most the limit the caller gave. */
  body: Buffer;
  /** Why the body could not be read up to that limit or its end. */
  bodyError?: string;
}

export interface PendingExchange {
  response: Promise<Exchange>;
  /**
   * Gives up: before the head is complete the exchange fails with `beforeHead`; once it is,
   * the response comes back with what was read and `whileReadingBody` as its body error.
   */
  cancel(beforeHead: string, whileReadingBody: string): void;
}

/** Why an exchange failed before its response head was complete: Go's text, without the URL. */
class ExchangeError extends Error {}

/** Go's http.Transport default MaxResponseHeaderBytes. */
const MaxHeadBytes = 10 << 20;
const MaxInformationalResponses = 5;
/** internal/chunked's maxLineLength. */
const MaxChunkLineBytes = 4096;
/** What Go's readTrailer looks ahead (bufio's default size). */
const MaxTrailerBytes = 4096;
const Broken = 'net/http: HTTP/1.x transport connection broken: ';
/** Where every plain socket reads into; what is kept of it is copied (Buffer.from) before the next read. */
const ReadBuffer = Buffer.allocUnsafe(64 * 1024);

/**
 * Sends `request` (a whole request head) to the endpoint and reads the response. `bodyLimit`
 * says, once the head is there, how many bytes of the body to read (0: none).
 */
export function exchange(endpoint: Endpoint, request: Buffer, bodyLimit: (head: ResponseHead) => number): PendingExchange {
  const reader = new ResponseReader(bodyLimit);
  let settled = false;
  let resolveResponse!: (exchange: Exchange) => void;
  let rejectResponse!: (err: ExchangeError) => void;
  const response = new Promise<Exchange>((resolve, reject) => {
    resolveResponse = resolve;
    rejectResponse = reject;
  });
  // Both ends of the connection, for Go's "read tcp <local>-><remote>: ..." (gone once it fails).
  let local = '';
  let remote = '';

  const settle = (): void => {
    if (settled) return;
    if (reader.failure !== undefined) {
      settled = true;
      socket.destroy();
      rejectResponse(new ExchangeError(reader.failure));
    } else if (reader.done) {
      settled = true;
      socket.destroy();
      resolveResponse(reader.result());
    }
  };
  const onData = (chunk: Buffer): void => {
    if (settled) return;
    try {
      reader.push(chunk);
    } catch (err) {
      // A bug of the reader's fails this exchange, never the agent.
      reader.fail(errorMessage(err), false);
    }
    settle();
  };
  const onEnd = (): void => {
    if (settled) return;
    try {
      reader.end();
    } catch (err) {
      reader.fail(errorMessage(err), false);
    }
    settle();
  };

  const socket: Socket = endpoint.secure
    ? // SNI with a host name, as Go's and node's https clients send it; none with an address.
      tlsConnect({ host: endpoint.host, port: endpoint.port, rejectUnauthorized: false, ...(isIP(endpoint.host) ? {} : { servername: endpoint.host }) })
    : netConnect({
        host: endpoint.host,
        port: endpoint.port,
        // Straight from the socket into one buffer for all: no stream, no 64 KiB allocation per read.
        onread: {
          buffer: ReadBuffer,
          callback: (count: number, buffer: Uint8Array): boolean => {
            onData(Buffer.from(buffer.subarray(0, count)));
            return true;
          },
        },
      });
  // The addresses once TCP is connected (a TLS socket says so before its handshake), so that an
  // error during the handshake names them too.
  socket.once('connect', () => {
    local = hostPort(socket.localAddress ?? '', socket.localPort ?? 0);
    // An address needs no getpeername(2).
    remote = isIP(endpoint.host) !== 0 ? hostPort(endpoint.host, endpoint.port) : hostPort(socket.remoteAddress ?? endpoint.host, socket.remotePort ?? endpoint.port);
  });
  // A plain socket sends what was written as soon as it connects; a TLS one, once secured.
  if (!endpoint.secure) socket.write(request);
  else {
    socket.once('secureConnect', () => socket.write(request));
    socket.on('data', onData);
  }
  socket.on('end', onEnd);
  // Closed without 'end' or 'error' (destroyed from outside): nothing more will come.
  socket.on('close', onEnd);
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (settled) return;
    reader.fail(socketErrorMessage(err, endpoint, local, remote));
    settle();
  });
  return {
    response,
    cancel(beforeHead, whileReadingBody) {
      if (settled) return;
      reader.fail(reader.head === undefined ? beforeHead : whileReadingBody, false);
      settle();
    },
  };
}

/** host:port as Go's net.JoinHostPort writes it. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The syscall errors Go names by strerror; the rest keep node's message. */
const Strerror: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  ECONNABORTED: 'software caused connection abort',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network is unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'broken pipe',
  EADDRNOTAVAIL: 'cannot assign requested address',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
};

/** A socket error as Go's net.OpError says it: "dial tcp 10.0.0.5:80: connect: connection refused". */
function socketErrorMessage(err: NodeJS.ErrnoException, endpoint: Endpoint, local: string, remote: string): string {
  const text = err.code === undefined ? undefined : Strerror[err.code];
  if (text !== undefined && err.syscall === 'connect') return `dial tcp ${hostPort(endpoint.host, endpoint.port)}: connect: ${text}`;
  if (text !== undefined && (err.syscall === 'read' || err.syscall === 'write')) return `${err.syscall} tcp ${local}->${remote}: ${err.syscall}: ${text}`;
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return `dial tcp: lookup ${endpoint.host}: no such host`;
  return errorMessage(err);
}

/** Go's %q of a string read as bytes (latin1). */
export function goQuoteBytes(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c >= 0x20 && c < 0x7f) out += text[i];
    else out += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return `${out}"`;
}

const StatusLine = /^HTTP\/\d\.\d$/;
const ThreeDigits = /^\d{3}$/;
/** A header name: token characters, or a space (Go tolerates it and leaves the name as it is). */
const FieldName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z ]+$/;
/** A header value: VCHAR, SP, HTAB, obs-text. */
const FieldValue = /^[\t\x20-\x7e\x80-\xff]*$/;
const Digits = /^\d+$/;
const HexDigits = /^[0-9a-fA-F]+$/;
const Empty = Buffer.alloc(0);

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailer' | 'close' | 'done';

const isAsciiSpace = (code: number): boolean => code === 0x20 || code === 0x09 || code === 0x0d || code === 0x0a;

/**
 * Go's textproto trim: ASCII spaces, tabs, CR and LF at both ends. A loop, not a regular
 * expression: a trailing-space pattern backtracks over every run of spaces inside a value, and
 * a server (or a pod spec's header) with a long one would hold the event loop for seconds.
 */
export function trimSpace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isAsciiSpace(text.charCodeAt(start))) start++;
  while (end > start && isAsciiSpace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/** Reads one response from the bytes given to it; `failure` or `done` says when it is over. */
class ResponseReader {
  readonly #bodyLimit: (head: ResponseHead) => number;
  /** The bytes received and not yet consumed are #buffer[#offset..]; #buffer may be a view of #store. */
  #buffer: Buffer = Empty;
  #store: Buffer = Empty;
  #offset = 0;
  #state: State = 'head';
  #received = 0;
  #lines: string[] = [];
  #lineStart = 0;
  /** Where to look for the next LF: none before it. */
  #scanned = 0;
  #headBytes = 0;
  #informational = 0;
  #limit = 0;
  #parts: Buffer[] = [];
  #size = 0;
  #remaining = 0;
  #excess = 0;
  #bodyError: string | undefined;
  head: ResponseHead | undefined;
  failure: string | undefined;
  done = false;

  constructor(bodyLimit: (head: ResponseHead) => number) {
    this.#bodyLimit = bodyLimit;
  }

  result(): Exchange {
    const body = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#size);
    return { ...this.head!, body, ...(this.#bodyError !== undefined ? { bodyError: this.#bodyError } : {}) };
  }

  push(chunk: Buffer): void {
    this.#received += chunk.length;
    const buffer = this.#buffer;
    if (this.#offset >= buffer.length) {
      this.#buffer = chunk;
      this.#offset = 0;
      this.#lineStart = 0;
      this.#scanned = 0;
    } else if (buffer.buffer === this.#store.buffer && buffer.byteOffset === this.#store.byteOffset && this.#store.length - buffer.length >= chunk.length) {
      // Room after what is there: appended in place (what was handed out lies before it).
      chunk.copy(this.#store, buffer.length);
      this.#buffer = this.#store.subarray(0, buffer.length + chunk.length);
    } else {
      // What is left, and the chunk, into a store twice as large as needed: a head or a line
      // that comes in many pieces costs a copy per doubling, not one per piece.
      const left = buffer.length - this.#offset;
      this.#store = Buffer.allocUnsafe(Math.max(4096, 2 * (left + chunk.length)));
      buffer.copy(this.#store, 0, this.#offset);
      chunk.copy(this.#store, left);
      this.#buffer = this.#store.subarray(0, left + chunk.length);
      this.#lineStart -= this.#offset;
      this.#scanned = Math.max(0, this.#scanned - this.#offset);
      this.#offset = 0;
    }
    this.#run(false);
  }

  /** The server closed the connection. */
  end(): void {
    this.#run(true);
  }

  /** The connection failed (or was given up): wrapped as Go wraps it once part of the head came. */
  fail(message: string, fromTheConnection = true): void {
    if (this.done || this.failure !== undefined) return;
    if (this.head !== undefined) {
      this.#bodyError = message;
      this.#finish();
    } else {
      this.failure = fromTheConnection && this.#received > 0 ? Broken + message : message;
    }
  }

  #finish(): void {
    this.#state = 'done';
    this.done = true;
  }

  #run(eof: boolean): void {
    try {
      while (this.#state !== 'done' && this.failure === undefined) {
        if (!this.#step(eof)) break;
      }
    } catch (err) {
      if (!(err instanceof BodyError)) throw err;
      this.#bodyError = err.message;
      this.#finish();
    }
  }

  /** Takes what is there of `#remaining` body bytes (a Content-Length's, a chunk's); false when nothing is there yet. */
  #readCounted(eof: boolean): boolean {
    const available = this.#buffer.length - this.#offset;
    if (available === 0) {
      if (eof) throw new BodyError('unexpected EOF');
      return false;
    }
    const take = Math.min(available, this.#remaining);
    this.#keep(take);
    this.#remaining -= take;
    return true;
  }

  /** One step of the state machine; false when it needs more bytes. */
  #step(eof: boolean): boolean {
    switch (this.#state) {
      case 'head':
        return this.#readHead(eof);
      case 'length':
        if (!this.#readCounted(eof)) return false;
        if (this.#remaining === 0 || this.#size >= this.#limit) this.#finish();
        return true;
      case 'close': {
        const available = this.#buffer.length - this.#offset;
        if (available === 0) {
          if (eof) this.#finish();
          return eof;
        }
        this.#keep(available);
        if (this.#size >= this.#limit) this.#finish();
        return true;
      }
      case 'chunk-size':
        return this.#readChunkSize(eof);
      case 'chunk-data':
        if (!this.#readCounted(eof)) return false;
        if (this.#size >= this.#limit) this.#finish();
        else if (this.#remaining === 0) this.#state = 'chunk-end';
        return true;
      case 'chunk-end': {
        if (this.#buffer.length - this.#offset < 2) {
          if (eof) throw new BodyError('unexpected EOF');
          return false;
        }
        if (this.#buffer[this.#offset] !== 13 || this.#buffer[this.#offset + 1] !== 10) throw new BodyError('malformed chunked encoding');
        this.#offset += 2;
        this.#state = 'chunk-size';
        return true;
      }
      case 'trailer':
        return this.#readTrailer(eof);
      case 'done':
        return false;
    }
  }

  /** Keeps `count` bytes of the body, up to the limit, and consumes them. */
  #keep(count: number): void {
    const wanted = Math.min(count, this.#limit - this.#size);
    if (wanted > 0) {
      this.#parts.push(this.#buffer.subarray(this.#offset, this.#offset + wanted));
      this.#size += wanted;
    }
    this.#offset += count;
  }

  #readHead(eof: boolean): boolean {
    const buffer = this.#buffer;
    if (this.#lineStart < this.#offset) this.#lineStart = this.#offset;
    for (;;) {
      const newline = buffer.indexOf(10, Math.max(this.#lineStart, this.#scanned));
      if (newline < 0) {
        this.#scanned = buffer.length;
        break;
      }
      const end = newline > this.#lineStart && buffer[newline - 1] === 13 ? newline - 1 : newline;
      const line = buffer.toString('latin1', this.#lineStart, end);
      this.#headBytes += newline + 1 - this.#lineStart;
      this.#lineStart = newline + 1;
      this.#offset = this.#lineStart;
      // An empty line ends the head; an empty first line is the status line, which Go fails on.
      if (line !== '' || this.#lines.length === 0) this.#lines.push(line);
      if (line === '') return this.#headComplete();
    }
    if (this.#headBytes + (buffer.length - this.#lineStart) > MaxHeadBytes) {
      this.failure = `${Broken}net/http: server response headers exceeded ${MaxHeadBytes} bytes; aborted`;
      return false;
    }
    if (!eof) return false;
    if (this.#received === 0) {
      // Nothing at all came back: Go's transport returns the 1-byte peek's io.EOF as it is.
      this.failure = 'EOF';
      return false;
    }
    // Go's ReadLine hands out a last line without its end; the head is then incomplete.
    if (this.#lineStart < buffer.length) this.#lines.push(buffer.toString('latin1', this.#lineStart, buffer.length));
    this.#offset = buffer.length;
    this.#lineStart = buffer.length;
    const failure = parseHead(this.#lines, false);
    this.failure = Broken + (typeof failure === 'string' ? failure : 'unexpected EOF');
    return false;
  }

  #headComplete(): boolean {
    const parsed = parseHead(this.#lines, true);
    this.#lines = [];
    this.#headBytes = 0;
    if (typeof parsed === 'string') {
      this.failure = Broken + parsed;
      return false;
    }
    const { statusCode } = parsed;
    if (statusCode >= 100 && statusCode <= 199 && statusCode !== 101) {
      this.#informational += 1;
      if (this.#informational > MaxInformationalResponses) {
        this.failure = `${Broken}net/http: too many 1xx informational responses`;
        return false;
      }
      return true;
    }
    this.head = { statusCode, location: parsed.location, contentLength: parsed.length };
    this.#limit = Math.max(0, this.#bodyLimit(this.head));
    if (this.#limit === 0 || parsed.length === 0) {
      this.#finish();
    } else if (parsed.chunked) {
      this.#state = 'chunk-size';
    } else if (parsed.length > 0) {
      this.#state = 'length';
      this.#remaining = parsed.length;
    } else {
      this.#state = 'close';
    }
    return true;
  }

  /** A chunk-size line, CRLF-ended (RFC 9112 allows no bare LF there, nor does Go). */
  #readChunkSize(eof: boolean): boolean {
    const buffer = this.#buffer;
    const newline = buffer.indexOf(10, this.#offset);
    if (newline < 0) {
      if (buffer.length - this.#offset >= MaxChunkLineBytes) throw new BodyError('header line too long');
      if (eof) throw new BodyError('unexpected EOF');
      return false;
    }
    const carriage = buffer.indexOf(13, this.#offset);
    if (carriage < 0 || carriage > newline) throw new BodyError('chunked line ends with bare LF');
    if (carriage !== newline - 1) throw new BodyError('invalid CR in chunked line');
    if (newline - 1 - this.#offset >= MaxChunkLineBytes) throw new BodyError('header line too long');
    const raw = buffer.toString('latin1', this.#offset, newline - 1);
    this.#offset = newline + 1;
    // Go trims trailing white space, then drops the chunk extension at the first ';'.
    const digits = chunkDigits(raw);
    if (digits === '') throw new BodyError('empty hex number for chunk length');
    if (!HexDigits.test(digits)) throw new BodyError('invalid byte in chunk length');
    if (digits.length > 16) throw new BodyError('http chunk length too large');
    const size = Number.parseInt(digits, 16);
    // Go's guard against a body made of tiny chunks (more framing than data).
    this.#excess = Math.max(0, this.#excess + raw.length + 2 - 16 - 2 * size);
    if (this.#excess > 16 * 1024) throw new BodyError('chunked encoding contains too much non-data');
    if (size === 0) {
      this.#state = 'trailer';
    } else {
      this.#remaining = size;
      this.#state = 'chunk-data';
    }
    return true;
  }

  /** After the last chunk: an empty line, or trailer fields then one (Go reads them, and fails on bad ones). */
  #readTrailer(eof: boolean): boolean {
    const buffer = this.#buffer;
    const available = buffer.length - this.#offset;
    if (available >= 2 && buffer[this.#offset] === 13 && buffer[this.#offset + 1] === 10) {
      this.#offset += 2;
      this.#finish();
      return true;
    }
    const end = buffer.indexOf('\r\n\r\n', this.#offset, 'latin1');
    if (end < 0) {
      if (available > MaxTrailerBytes) throw new BodyError('http: suspiciously long trailer after chunked body');
      if (eof) throw new BodyError('http: unexpected EOF reading trailer');
      return false;
    }
    const lines = buffer.toString('latin1', this.#offset, end).split('\r\n');
    this.#offset = end + 4;
    const failure = parseFields(lines);
    if (typeof failure === 'string') throw new BodyError(failure);
    this.#finish();
    return true;
  }
}

class BodyError extends Error {}

/** The chunk size of a chunk-size line: white space trimmed at the end, the extension dropped. */
function chunkDigits(line: string): string {
  let end = line.length;
  while (end > 0 && isAsciiSpace(line.charCodeAt(end - 1))) end--;
  const trimmed = line.slice(0, end);
  const semicolon = trimmed.indexOf(';');
  return semicolon < 0 ? trimmed : trimmed.slice(0, semicolon);
}

interface ParsedHead {
  statusCode: number;
  location: string | undefined;
  chunked: boolean;
  /** The body's length: 0 for none, -1 when it is chunked or runs until the server closes. */
  length: number;
}

interface Fields {
  location: string | undefined;
  contentLength: string[];
  transferEncoding: string[];
}

/** Go's ReadResponse and readTransfer on a head's lines; a string says why it is malformed. */
function parseHead(lines: readonly string[], complete: boolean): ParsedHead | string {
  const statusLine = lines[0] ?? '';
  const space = statusLine.indexOf(' ');
  if (space < 0) return `malformed HTTP response ${goQuoteBytes(statusLine)}`;
  const proto = statusLine.slice(0, space);
  const status = statusLine.slice(space + 1).replace(/^ +/, '');
  const codeEnd = status.indexOf(' ');
  const code = codeEnd < 0 ? status : status.slice(0, codeEnd);
  if (!ThreeDigits.test(code)) return `malformed HTTP status code ${goQuoteBytes(code)}`;
  if (!StatusLine.test(proto)) return `malformed HTTP version ${goQuoteBytes(proto)}`;
  const fields = parseFields(lines.slice(1));
  if (typeof fields === 'string') return fields;
  if (!complete) return 'unexpected EOF';
  const statusCode = Number(code);
  const major = proto.charCodeAt(5) - 48;
  const minor = proto.charCodeAt(7) - 48;
  let contentLength = fields.contentLength;
  let chunked = false;
  // Transfer-Encoding counts from HTTP/1.1 on, and only "chunked", once.
  if (fields.transferEncoding.length > 0 && (major > 1 || (major === 1 && minor >= 1))) {
    if (fields.transferEncoding.length !== 1) return `too many transfer encodings: [${fields.transferEncoding.map(goQuoteBytes).join(' ')}]`;
    if (fields.transferEncoding[0]!.toLowerCase() !== 'chunked') return `unsupported transfer encoding: ${goQuoteBytes(fields.transferEncoding[0]!)}`;
    chunked = true;
    contentLength = [];
  }
  if (contentLength.length > 1) {
    const first = trimSpace(contentLength[0]!);
    if (contentLength.some((value) => trimSpace(value) !== first)) {
      return `http: message cannot contain multiple Content-Length headers; got [${contentLength.map(goQuoteBytes).join(' ')}]`;
    }
  }
  const location = fields.location;
  if ((statusCode >= 100 && statusCode <= 199) || statusCode === 204 || statusCode === 304) return { statusCode, location, chunked: false, length: 0 };
  if (chunked) return { statusCode, location, chunked, length: -1 };
  if (contentLength.length > 0) {
    const value = trimSpace(contentLength[0]!);
    if (value === '') return `invalid empty Content-Length ${goQuoteBytes(value)}`;
    if (!Digits.test(value) || value.length > 19 || BigInt(value) > 0x7fffffffffffffffn) return `bad Content-Length ${goQuoteBytes(value)}`;
    return { statusCode, location, chunked, length: Number(value) };
  }
  return { statusCode, location, chunked, length: -1 };
}

/** Go's ReadMIMEHeader on header lines, keeping the fields a probe needs; a string says why they are malformed. */
function parseFields(lines: readonly string[]): Fields | string {
  const fields: Fields = { location: undefined, contentLength: [], transferEncoding: [] };
  let field: string | undefined;
  for (let i = 0; i <= lines.length; i++) {
    const line = lines[i];
    if (line !== undefined && (line.startsWith(' ') || line.startsWith('\t'))) {
      if (field === undefined) return `malformed MIME header initial line: ${line}`;
      field += ` ${trimSpace(line)}`;
      continue;
    }
    if (field !== undefined) {
      const failure = addField(fields, field);
      if (failure !== undefined) return failure;
    }
    if (line === undefined) break;
    if (!line.includes(':')) return `malformed MIME header: missing colon: ${goQuoteBytes(line)}`;
    field = trimSpace(line);
  }
  return fields;
}

function addField(fields: Fields, line: string): string | undefined {
  const colon = line.indexOf(':');
  const name = line.slice(0, colon);
  const rawValue = line.slice(colon + 1);
  if (!FieldName.test(name) || !FieldValue.test(rawValue)) return `malformed MIME header line: ${line}`;
  // A name with a space is kept as it is by Go, so never matches a field it knows.
  if (name.includes(' ')) return undefined;
  const value = rawValue.replace(/^[ \t]+/, '');
  switch (name.toLowerCase()) {
    case 'location':
      fields.location ??= value;
      break;
    case 'content-length':
      fields.contentLength.push(value);
      break;
    case 'transfer-encoding':
      fields.transferEncoding.push(value);
      break;
  }
  return undefined;
}
