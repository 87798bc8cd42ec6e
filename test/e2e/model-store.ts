// A private model store for the URL-model step of the end-to-end suite: an https server in a pod
// of the runtime image (the node has only the project's images; this one has node and the tar
// package), with a certificate from a CA the test made, answering only a request that carries the
// presigned-style signature in its query and the bearer token in its Authorization header.
import type { V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import type { E2eCluster } from './suite.js';

export const MODEL_STORE = 'model-store';
const PORT = 8443;
const TLS_DIR = '/tls';

/**
 * Packs the runtime image's bundled model once, logs {"sha256": …} when it listens, and logs one
 * line per request saying whether it was authorized, never the token or the signature themselves.
 */
const SERVER = String.raw`
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { create } from 'tar';
const MODEL = '/app/models/sst2-bert-mini-en';
const chunks = [];
for await (const chunk of create({ gzip: true, cwd: MODEL, portable: true }, readdirSync(MODEL))) chunks.push(chunk);
const archive = Buffer.concat(chunks);
const tls = { key: readFileSync('${TLS_DIR}/tls.key'), cert: readFileSync('${TLS_DIR}/tls.crt') };
createServer(tls, (req, res) => {
  const url = new URL(req.url, 'https://x');
  const token = req.headers.authorization === 'Bearer ' + process.env.TOKEN;
  const signed = url.searchParams.get('X-Amz-Signature') === process.env.SIGNATURE;
  console.log(JSON.stringify({ path: url.pathname, token, signed }));
  if (!token) return res.writeHead(401).end();
  if (!signed) return res.writeHead(403).end();
  if (url.pathname !== '/sst2.tar.gz') return res.writeHead(404).end();
  res.end(archive);
}).listen(${PORT}, () => console.log(JSON.stringify({ sha256: createHash('sha256').update(archive).digest('hex') })));
`;

export function modelStoreService(namespace: string): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: MODEL_STORE, namespace },
    spec: { selector: { app: MODEL_STORE }, ports: [{ name: 'https', port: 443, targetPort: PORT, protocol: 'TCP' }] },
  };
}

export function modelStoreTls(namespace: string, tls: { serverKey: string; serverCert: string }): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `${MODEL_STORE}-tls`, namespace },
    type: 'kubernetes.io/tls',
    stringData: { 'tls.key': tls.serverKey, 'tls.crt': tls.serverCert },
  };
}

export function modelStorePod(cluster: E2eCluster, namespace: string, secrets: { token: string; signature: string }): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: MODEL_STORE, namespace, labels: { app: MODEL_STORE } },
    spec: {
      // Pod Security "restricted", which the namespace enforces.
      securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{
        name: 'server',
        image: cluster.images.runtime,
        imagePullPolicy: cluster.pullPolicy,
        command: ['node', '--input-type=module', '-e', SERVER],
        env: [{ name: 'TOKEN', value: secrets.token }, { name: 'SIGNATURE', value: secrets.signature }],
        ports: [{ containerPort: PORT }],
        readinessProbe: { tcpSocket: { port: PORT }, periodSeconds: 1 },
        volumeMounts: [{ name: 'tls', mountPath: TLS_DIR, readOnly: true }],
        resources: { requests: { cpu: '50m', memory: '64Mi' } },
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
      }],
      volumes: [{ name: 'tls', secret: { secretName: `${MODEL_STORE}-tls`, defaultMode: 0o440 } }],
    },
  };
}
