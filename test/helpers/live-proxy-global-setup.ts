/**
 * Before the tests that run a service proxy on this host: none may run while a dockerlet proxy
 * serves here (`npm start` in another terminal), since each would rewrite the other's rules.
 * They refuse, all of them, before anything is touched.
 */
import { datapathOwner, describeProxy } from '../../proxy/proxy-lock.js';

export default async function setup(): Promise<void> {
  const owner = await datapathOwner();
  if (owner) {
    throw new Error(
      `a dockerlet proxy runs on this host${describeProxy(owner)}: the network tests would rewrite its service rules. Stop it (Ctrl-C where it runs; its pods keep running), then run the tests again`,
    );
  }
}
