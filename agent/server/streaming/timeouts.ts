/** How long a streaming session may take to be set up, and may stay silent, by default. */

/** remotecommand's DefaultStreamCreationTimeout: the client has this long to create its streams. */
export const DefaultStreamCreationTimeoutMs = 30_000;
/** The kubelet's default streamingConnectionIdleTimeout (4h): a connection silent this long is closed. */
export const DefaultStreamIdleTimeoutMs = 4 * 60 * 60 * 1000;
