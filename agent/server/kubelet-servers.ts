/**
 * The kubelet's two servers on --address: the secure one on --port (TLS with the serving
 * certificate, client certificates requested when a client CA is configured, the gate built from
 * the authentication and authorization settings) and the read-only one on --read-only-port. Either
 * is off at port 0. The certificate and the client CA are read when the servers start, so a bad
 * file fails the start with its name.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { DockerletError, errorMessage } from '../../common/api/errors.js';
import type { KubeApi } from '../../common/kube-api/kube-client.js';
import { buildServer } from './app.js';
import { UnionAuthenticator, type RequestAuthenticator } from './auth/authenticator.js';
import { AlwaysAllow, SubjectAccessReviewAuthorizer, type Authorizer } from './auth/authorizer.js';
import { KubeletAuth } from './auth/kubelet-auth.js';
import { TokenReviewAuthenticator } from './auth/token-authenticator.js';
import { X509Authenticator } from './auth/x509-authenticator.js';
import type { KubeletApi } from './kubelet-api.js';
import type { SecureServingOptions } from './serving-options.js';
import { servingCert } from './tls/serving-cert.js';
import { nodeTlsOptions } from './tls/tls-settings.js';

export interface KubeletServersOptions {
  nodeName: string;
  rootDir: string;
  address: string;
  /** 0 disables the secure server. */
  port: number;
  /** 0 disables the read-only server. */
  readOnlyPort: number;
  serving: SecureServingOptions;
  /** The node's addresses, named in a self-signed serving certificate. */
  hostIPs: readonly string[];
  api: KubeletApi;
  /** The API server, for the webhooks (cluster mode). */
  client?: KubeApi;
  /** The configuration /configz shows. */
  configz(): object;
  logger: Logger;
}

export class KubeletServers {
  /** The address each server listens on, once listening. */
  readonly listening: { port?: string; readOnlyPort?: string } = {};
  readonly #o: KubeletServersOptions;
  readonly #servers: FastifyInstance[] = [];
  #closed = false;

  constructor(options: KubeletServersOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    const o = this.#o;
    if (o.port !== 0) {
      this.#warnAboutAccess();
      const app = buildServer({ kind: 'secure', api: o.api, logger: o.logger, https: await this.#httpsOptions(), auth: this.#auth(), configz: o.configz, streamingIdleTimeoutMs: o.serving.streamingConnectionIdleTimeoutMs });
      await this.#listen('port', app, o.port);
    }
    if (o.readOnlyPort !== 0) await this.#listen('readOnlyPort', buildServer({ kind: 'read-only', api: o.api, logger: o.logger }), o.readOnlyPort);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#servers.map((server) => server.close()));
  }

  async #listen(key: 'port' | 'readOnlyPort', app: FastifyInstance, port: number): Promise<void> {
    if (this.#closed) return;
    this.#servers.push(app);
    const address = await app.listen({ host: this.#o.address, port }).catch((err: unknown) => {
      // Closed by close() while it was starting to listen: not a failure to start.
      if (this.#closed) return undefined;
      throw err;
    });
    if (address === undefined || this.#closed) return;
    this.listening[key] = address;
    this.#o.logger.info({ address }, key === 'port' ? 'serving the kubelet API (TLS)' : 'serving the read-only kubelet API');
  }

  async #httpsOptions(): Promise<HttpsServerOptions> {
    const o = this.#o;
    const { serving } = o;
    const cert = await servingCert({
      ...(serving.tlsCertFile !== undefined && serving.tlsPrivateKeyFile !== undefined ? { certFile: serving.tlsCertFile, keyFile: serving.tlsPrivateKeyFile } : {}),
      rootDir: o.rootDir,
      hostname: o.nodeName,
      addresses: o.hostIPs,
      logger: o.logger,
    });
    const clientCA = serving.authentication.x509ClientCAFile;
    const ca = clientCA === undefined ? undefined : await readClientCA(clientCA);
    return {
      cert: cert.cert,
      key: cert.key,
      ...nodeTlsOptions(serving.tls),
      // Ask for a certificate only when there is a CA to check it with; the gate reads the verdict.
      ...(ca ? { ca, requestCert: true, rejectUnauthorized: false } : {}),
    };
  }

  #auth(): KubeletAuth {
    const { serving, nodeName, logger } = this.#o;
    const authenticators: RequestAuthenticator[] = [];
    if (serving.authentication.x509ClientCAFile !== undefined) authenticators.push(new X509Authenticator());
    if (serving.authentication.webhook.enabled) authenticators.push(new TokenReviewAuthenticator({ client: this.#client(), cacheTtlMs: serving.authentication.webhook.cacheTtlMs }));
    const authorizer: Authorizer =
      serving.authorization.mode === 'Webhook'
        ? new SubjectAccessReviewAuthorizer({
            client: this.#client(),
            allowedTtlMs: serving.authorization.webhook.cacheAuthorizedTtlMs,
            deniedTtlMs: serving.authorization.webhook.cacheUnauthorizedTtlMs,
          })
        : AlwaysAllow;
    return new KubeletAuth({ authenticator: new UnionAuthenticator(authenticators, { anonymous: serving.authentication.anonymous }), authorizer, nodeName, logger });
  }

  /** Settings that lock everyone out are legal (the read-only port still serves) but rarely meant. */
  #warnAboutAccess(): void {
    const { authentication } = this.#o.serving;
    const canAuthenticate = authentication.x509ClientCAFile !== undefined || authentication.webhook.enabled;
    if (!canAuthenticate && !authentication.anonymous) {
      this.#o.logger.warn({ port: this.#o.port }, 'no client can authenticate to the kubelet API: set --client-ca-file (or --kubeconfig for tokens), or --anonymous-auth on a loopback --address');
    }
  }

  #client(): KubeApi {
    if (!this.#o.client) throw new DockerletError('DKL_ERR_FLAG_INVALID', 'the authentication and authorization webhooks need --kubeconfig: an API server to ask');
    return this.#o.client;
  }
}

/** The client CA bundle: read once at start (a change needs a restart), and refused when it holds no certificate. */
async function readClientCA(path: string): Promise<Buffer> {
  const invalid = (message: string, cause?: unknown): DockerletError => new DockerletError('DKL_ERR_FLAG_INVALID', `--client-ca-file ${path}: ${message}`, cause ? { cause } : {});
  const pem = await readFile(path).catch((err: unknown) => {
    throw invalid(errorMessage(err), err);
  });
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw invalid('contains no PEM certificate');
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw invalid(`a certificate does not parse: ${errorMessage(err)}`, err);
    }
  }
  return pem;
}
