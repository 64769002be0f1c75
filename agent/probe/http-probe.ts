/** The httpGet probe (pkg/probe/http DoHTTPProbe): 200-399 succeeds; an unfollowed redirect is a Warning. */
import { errorMessage } from '../../common/api/errors.js';
import { doHttpGet, type HttpGetAction } from './http-get.js';
import type { ProbeRun } from './probe-run.js';

export async function httpProbe(action: HttpGetAction, timeoutMs: number): Promise<ProbeRun> {
  let response;
  try {
    response = await doHttpGet(action, { timeoutMs, purpose: 'probe' });
  } catch (err) {
    return { result: 'Failure', output: errorMessage(err) };
  }
  const { statusCode, body } = response;
  if (statusCode >= 200 && statusCode < 400) {
    if (statusCode >= 300) return { result: 'Warning', output: `Probe terminated redirects, Response body: ${body}` };
    return { result: 'Success', output: body };
  }
  return { result: 'Failure', output: `HTTP probe failed with statuscode: ${statusCode}` };
}
