/**
 * Client certificates (the API server's x509 request authenticator with its common-name user
 * conversion): a certificate that chains to --client-ca-file and may be used for client
 * authentication names the user in its CN and the groups in its O fields. Node's TLS server has
 * verified the chain against the CA when it asked for the certificate; this reads the verdict.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Authentication, RequestAuthenticator } from './authenticator.js';

const ClientAuthUsage = '1.3.6.1.5.5.7.3.2';
const AnyUsage = '2.5.29.37.0';

export class X509Authenticator implements RequestAuthenticator {
  async authenticate(request: IncomingMessage): Promise<Authentication> {
    const socket = request.socket as TLSSocket;
    if (typeof socket.getPeerCertificate !== 'function') return undefined;
    const cert = socket.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) return undefined;
    if (!socket.authorized) return { error: `x509: the client certificate is not signed by the client CA (${String(socket.authorizationError)})` };
    const usages = cert.ext_key_usage;
    if (usages && !usages.includes(ClientAuthUsage) && !usages.includes(AnyUsage)) return { error: 'x509: the client certificate may not be used for client authentication' };
    const name = first(cert.subject.CN);
    if (!name) return undefined;
    return { user: { name, groups: all(cert.subject.O) } };
  }
}

const all = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const first = (value: string | string[] | undefined): string | undefined => all(value)[0];
