/**
 * The httpGet probe (pkg/probe/http DoHTTPProbe): 200-399 succeeds; an unfollowed redirect is a
 * Warning. No response at all is a Failure naming why; a response whose body could not be read
 * (cut short, reset, the timeout reached while reading it) is an error, thrown: the prober
 * discards that run, as DoHTTPProbe returns the error of ReadAtMost.
 */
import { errorMessage } from '../../common/api/errors.js';
import { doHttpGet, type HttpGetAction } from './http-get.js';
import { ProbeRunError, type ProbeRun } from './probe-run.js';

export async function httpProbe(action: HttpGetAction, timeoutMs: number): Promise<ProbeRun> {
  let response;
  try {
    response = await doHttpGet(action, { timeoutMs, purpose: 'probe' });
  } catch (err) {
    return { result: 'Failure', output: errorMessage(err) };
  }
  const { statusCode, body, bodyError } = response;
  if (bodyError !== undefined) throw new ProbeRunError(bodyError, 'Failure');
  if (statusCode >= 200 && statusCode < 400) {
    if (statusCode >= 300) return { result: 'Warning', output: `Probe terminated redirects, Response body: ${body}` };
    return { result: 'Success', output: body };
  }
  return { result: 'Failure', output: `HTTP probe failed with statuscode: ${statusCode}` };
}
