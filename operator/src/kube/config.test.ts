import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inClusterAccess, loadKubeAccess, loadKubeConfigFiles, parseKubeConfig } from './config.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(opts: { cluster?: Record<string, unknown>; user?: Record<string, unknown>; current?: string; suffix?: string } = {}): string {
  const s = opts.suffix ?? '';
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: `c${s}`, cluster: { server: `https://c${s}.example:6443/`, ...opts.cluster } }],
    users: [{ name: `u${s}`, user: opts.user ?? { token: `token${s}` } }],
    contexts: [{ name: `ctx${s}`, context: { cluster: `c${s}`, user: `u${s}` } }],
    ...(opts.current === undefined ? { 'current-context': `ctx${s}` } : opts.current ? { 'current-context': opts.current } : {}),
  });
}

describe('kubeconfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kubeconfig-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the current context, with inline certificates', () => {
    const access = parseKubeConfig(`
apiVersion: v1
kind: Config
current-context: admin
clusters:
- name: other
  cluster: { server: "https://other:6443" }
- name: envtest
  cluster: { server: "https://127.0.0.1:6443/", certificate-authority-data: ${b64('CA')}, tls-server-name: kubernetes }
users:
- name: admin
  user: { client-certificate-data: ${b64('CERT')}, client-key-data: ${b64('KEY')} }
contexts:
- name: other
  context: { cluster: other, user: admin }
- name: admin
  context: { cluster: envtest, user: admin, namespace: ignored }
`);
    expect(access).toEqual({
      server: 'https://127.0.0.1:6443', ca: Buffer.from('CA'), tlsServerName: 'kubernetes', cert: Buffer.from('CERT'), key: Buffer.from('KEY'),
    });
  });

  it('reads files relative to the kubeconfig that names them', () => {
    mkdirSync(join(dir, 'pki'));
    for (const [f, text] of Object.entries({ 'ca.crt': 'CA', 'admin.crt': 'CERT', 'admin.key': 'KEY', token: ' tok\n' })) writeFileSync(join(dir, 'pki', f), text);
    const certs = join(dir, 'certs.yaml');
    writeFileSync(certs, kubeconfig({ cluster: { 'certificate-authority': 'pki/ca.crt' }, user: { 'client-certificate': 'pki/admin.crt', 'client-key': join(dir, 'pki', 'admin.key') } }));
    expect(loadKubeConfigFiles([certs])).toMatchObject({ ca: Buffer.from('CA'), cert: Buffer.from('CERT'), key: Buffer.from('KEY') });

    const token = join(dir, 'token.yaml');
    writeFileSync(token, kubeconfig({ user: { tokenFile: 'pki/token' }, cluster: { 'insecure-skip-tls-verify': true } }));
    expect(loadKubeConfigFiles([token])).toEqual({ server: 'https://c.example:6443', insecureSkipTlsVerify: true, token: 'tok', tokenFile: join(dir, 'pki', 'token') });
  });

  it('merges several files as kubectl does: the first to name something wins', () => {
    const first = join(dir, 'first');
    const second = join(dir, 'second');
    writeFileSync(first, kubeconfig({ current: '', suffix: '' }));
    // Defines c again (ignored) and the current context, which points at the first file's c.
    writeFileSync(second, JSON.stringify({
      ...JSON.parse(kubeconfig({ suffix: '2' })) as object,
      clusters: [{ name: 'c', cluster: { server: 'https://shadowed:1' } }],
      contexts: [{ name: 'mixed', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'mixed',
    }));
    expect(loadKubeConfigFiles([join(dir, 'missing'), first, second])).toEqual({ server: 'https://c.example:6443', token: 'token' });
  });

  it('refuses what it cannot do, naming the culprit', () => {
    expect(() => parseKubeConfig(kubeconfig({ user: { exec: { command: 'aws' } } }))).toThrow(/user u uses exec, which the operator does not support/);
    expect(() => parseKubeConfig(kubeconfig({ cluster: { 'proxy-url': 'http://proxy:3128' } }))).toThrow(/cluster c uses proxy-url/);
    expect(() => parseKubeConfig(kubeconfig({ user: { 'client-certificate-data': b64('CERT') } }))).toThrow(/needs both a client certificate and its key/);
    expect(() => parseKubeConfig(kubeconfig({ current: '' }))).toThrow(/no current-context/);
    expect(() => parseKubeConfig(kubeconfig({ current: 'nope' }))).toThrow(/current-context nope is not defined/);
    expect(() => parseKubeConfig('clusters: [')).toThrow(/kubeconfig: /);
    expect(() => loadKubeConfigFiles([join(dir, 'nope')])).toThrow(/no kubeconfig at/);
  });
});

describe('in-cluster access and the default order', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'serviceaccount-'));
    writeFileSync(join(dir, 'token'), 'sa-token\n');
    writeFileSync(join(dir, 'ca.crt'), 'CLUSTER CA');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('uses the service account and the service address, IPv6 included', () => {
    const env = { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' };
    expect(inClusterAccess(env, dir)).toEqual({ server: 'https://[fd00::1]:443', ca: Buffer.from('CLUSTER CA'), token: 'sa-token', tokenFile: join(dir, 'token') });
    expect(() => inClusterAccess({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, dir)).toThrow(/KUBERNETES_SERVICE_PORT/);
    expect(() => inClusterAccess(env, join(dir, 'missing'))).toThrow(/service-account CA .*ENOENT/);
  });

  it('prefers $KUBECONFIG, then the pod, then ~/.kube/config', () => {
    const pod = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const file = join(dir, 'kubeconfig');
    writeFileSync(file, kubeconfig({ suffix: '-env' }));
    mkdirSync(join(dir, '.kube'));
    writeFileSync(join(dir, '.kube', 'config'), kubeconfig({ suffix: '-home' }));

    expect(loadKubeAccess({ ...pod, HOME: dir, KUBECONFIG: `${join(dir, 'missing')}${delimiter}${file}` }, dir).server).toBe('https://c-env.example:6443');
    expect(loadKubeAccess({ ...pod, HOME: dir }, dir).server).toBe('https://10.0.0.1:443');
    expect(loadKubeAccess({ HOME: dir }, dir).server).toBe('https://c-home.example:6443');
    expect(() => loadKubeAccess({ HOME: join(dir, 'nobody') }, dir)).toThrow(/no Kubernetes credentials/);
  });
});
