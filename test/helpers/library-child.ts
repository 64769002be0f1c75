/**
 * A test process that uses the library and dies without stopping its node: it starts a node,
 * applies a pod and a Service, prints one JSON line when they serve, and waits to be killed.
 * Usage: node --import tsx library-child.ts <sessions dir> <node name> <resolv.conf> [<kubeconfig>]
 * (with a kubeconfig, the node joins that cluster).
 */
import { startNode } from '../../library/index.js';

const [sessionsDir, name, resolvConf, kubeconfig] = process.argv.slice(2);
const node = await startNode({ name: name!, sessionsDir: sessionsDir!, resolvConf: resolvConf!, ...(kubeconfig ? { kubeconfig } : {}) });
await node.apply(`apiVersion: v1
kind: Pod
metadata: {name: sleeper, labels: {app: sleeper}}
spec:
  containers:
    - {name: main, image: dockerlet.local/busybox:1.35, command: ["sh", "-c", "echo ok > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"]}
---
apiVersion: v1
kind: Service
metadata: {name: sleeper}
spec:
  selector: {app: sleeper}
  ports: [{port: 80, targetPort: 8080}]
`);
await node.waitForPods();
process.stdout.write(`${JSON.stringify({ url: await node.serviceUrl('sleeper'), addresses: node.addresses })}\n`);
setInterval(() => undefined, 1 << 30);
