/**
 * The registries the image-pull tests pull from, on loopback, since no registry outside this
 * machine is reachable and no DNS query may leave it. The e2e suite takes its registries from a
 * KUBE_TEST_REPO_LIST file (test/utils/image/manifest.go), so the tests that pull for real are
 * pointed here:
 * - e2e images (agnhost, pulled with imagePullPolicy Always) come from an open registry, which
 *   has no `invalid/alpine`: the invalid-registry test gets a real "manifest unknown";
 * - the authenticated images come from a registry that wants a login, which the suite is given as
 *   its --docker-config-file: with the pull secret the test makes from it the pull succeeds,
 *   without it the registry answers 401.
 * Every pod that runs agnhost then runs it under the open registry's name; Docker has its layers
 * already, so each pull is a manifest read. Stopping removes the registries, their storage and
 * the images pulled from them.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startRegistry, type LocalRegistry } from '../helpers/registry.js';

/** The images the suite knows under these names (built by scripts/build-conformance-images.sh). */
const Agnhost = { local: 'k8s.gcr.io/e2e-test-images/agnhost:2.21', repository: 'e2e-test-images/agnhost:2.21' };
/** Any image with /bin/sh serves as the authenticated alpine: the test only runs a shell loop in it. */
const AuthenticatedAlpine = { local: 'docker.io/library/busybox:1.29', repository: 'authenticated-image-pulling/alpine:3.7' };

export interface ImageRegistries {
  /** The KUBE_TEST_REPO_LIST file. */
  repoListFile: string;
  /** The suite's --docker-config-file: the login of the authenticated registry. */
  dockerConfigFile: string;
  stop(): Promise<void>;
}

export async function startImageRegistries(dir: string): Promise<ImageRegistries> {
  const started: LocalRegistry[] = [];
  try {
    const open = await startRegistry();
    started.push(open);
    const login = { username: 'conformance', password: randomBytes(12).toString('hex') };
    const authenticated = await startRegistry({ login });
    started.push(authenticated);
    await open.push(Agnhost.local, Agnhost.repository);
    await authenticated.push(AuthenticatedAlpine.local, AuthenticatedAlpine.repository);

    const repoListFile = join(dir, 'repo-list.yaml');
    await writeFile(
      repoListFile,
      stringify({
        promoterE2eRegistry: `${open.address}/e2e-test-images`,
        invalidRegistry: `${open.address}/invalid`,
        gcAuthenticatedRegistry: `${authenticated.address}/authenticated-image-pulling`,
        privateRegistry: `${authenticated.address}/k8s-authenticated-test`,
      }),
    );
    const dockerConfigFile = join(dir, 'docker-config.json');
    const auth = Buffer.from(`${login.username}:${login.password}`).toString('base64');
    await writeFile(dockerConfigFile, JSON.stringify({ auths: { [authenticated.address]: { auth } } }), { mode: 0o600 });
    return { repoListFile, dockerConfigFile, stop: () => stopAll(started) };
  } catch (err) {
    await stopAll(started);
    throw err;
  }
}

async function stopAll(registries: readonly LocalRegistry[]): Promise<void> {
  for (const registry of registries) await registry.stop();
}
