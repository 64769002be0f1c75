/**
 * What the kubelet writes on a remotecommand session's error stream when the command ends
 * (ServeExec / ServeAttach and their writeStatus functions in upstream's
 * pkg/kubelet/cri/streaming/remotecommand): a metav1.Status, sent as JSON from v4 on and as the
 * bare failure message before (nothing at all on success).
 *
 * kubectl reads the v4 form back: a Failure with reason NonZeroExitCode and an ExitCode cause
 * becomes its own exit code; any other Failure is printed as "error: <message>".
 */

/** The fields of metav1.Status these statuses use, in the order Go marshals them. */
export interface Status {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: Array<{ reason?: string; message: string }> };
  code?: number;
}

/** How a protocol version writes its status: JSON from v4 on, the failure text before. */
export type StatusFormat = 'json' | 'text';

export const successStatus = (): Status => ({ metadata: {}, status: 'Success' });

/**
 * A command that exited non-zero. The message is the one upstream builds from dockershim's exit
 * error ("command terminated with non-zero exit code: Error executing in Docker Container: 3").
 */
export function exitCodeStatus(exitCode: number): Status {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: Error executing in Docker Container: ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

/** apierrors.NewInternalError: an error that is not the command's own exit. */
export function internalErrorStatus(message: string): Status {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${message}`,
    reason: 'InternalError',
    details: { causes: [{ message }] },
    code: 500,
  };
}

/** The bytes to write on the error stream, or undefined when this format writes nothing. */
export function encodeStatus(status: Status, format: StatusFormat): Buffer | undefined {
  if (format === 'json') return Buffer.from(JSON.stringify(status));
  return status.status === 'Success' ? undefined : Buffer.from(status.message ?? '');
}
