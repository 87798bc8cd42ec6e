import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';

/** Where the apiserver is and how to prove who we are: all the operator takes from a kubeconfig or its service account. */
export interface KubeAccess {
  /** https://host:port, or http:// (kubectl proxy). */
  server: string;
  /** PEM; without it the system's CAs are trusted. */
  ca?: Buffer;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  /** Read again as it rotates: a projected service-account token is replaced about every hour. */
  tokenFile?: string;
}

/** A kubeconfig or service account the operator cannot use; printed as one line, like a bad flag. */
export class KubeAccessError extends Error {
  override name = 'KubeAccessError';
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * As controller-runtime chooses: $KUBECONFIG if set, else the pod's service account when running
 * in a cluster, else ~/.kube/config.
 */
export function loadKubeAccess(env: NodeJS.ProcessEnv = process.env, serviceAccountDir = SERVICE_ACCOUNT_DIR): KubeAccess {
  if (env.KUBECONFIG) return loadKubeConfigFiles(env.KUBECONFIG.split(delimiter).filter(Boolean));
  if (env.KUBERNETES_SERVICE_HOST) return inClusterAccess(env, serviceAccountDir);
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return loadKubeConfigFiles([home]);
  throw new KubeAccessError('no Kubernetes credentials: not in a pod, $KUBECONFIG unset and no ~/.kube/config');
}

export function inClusterAccess(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR): KubeAccess {
  const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } = env;
  if (!host || !port) throw new KubeAccessError('in-cluster config needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT');
  const tokenFile = join(dir, 'token');
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: read(join(dir, 'ca.crt'), 'service-account CA'),
    token: read(tokenFile, 'service-account token').toString('utf8').trim(),
    tokenFile,
  };
}

/**
 * The current context of one or more kubeconfig files merged the way kubectl merges $KUBECONFIG:
 * the first file to name a cluster, user, context or current-context wins. Relative paths in a
 * file are relative to that file.
 */
export function loadKubeConfigFiles(paths: string[]): KubeAccess {
  const files = paths.filter((p) => existsSync(p));
  if (files.length === 0) throw new KubeAccessError(`no kubeconfig at ${paths.join(', ')}`);
  return currentAccess(files.map((path) => source(readFileSync(path, 'utf8'), dirname(resolve(path)), path)));
}

/** Kubeconfig text (YAML or JSON); relative paths in it are taken from `baseDir`. */
export function parseKubeConfig(text: string, baseDir = process.cwd()): KubeAccess {
  return currentAccess([source(text, baseDir, 'kubeconfig')]);
}

type Entry = Record<string, unknown>;
interface Named { name?: string }
interface KubeConfigDoc {
  clusters?: (Named & { cluster?: Entry })[];
  users?: (Named & { user?: Entry })[];
  contexts?: (Named & { context?: Entry })[];
  'current-context'?: string;
}
interface Source { doc: KubeConfigDoc | null; dir: string }
interface Located { entry: Entry; dir: string }

function source(text: string, dir: string, where: string): Source {
  try {
    return { doc: parse(text) as KubeConfigDoc | null, dir };
  } catch (err) {
    throw new KubeAccessError(`${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The first file to name something wins, as kubectl merges. */
function merge(files: Source[]) {
  const clusters = new Map<string, Located>();
  const users = new Map<string, Located>();
  const contexts = new Map<string, Entry>();
  let current: string | undefined;
  for (const { doc, dir } of files) {
    for (const c of doc?.clusters ?? []) if (c.name && !clusters.has(c.name)) clusters.set(c.name, { entry: c.cluster ?? {}, dir });
    for (const u of doc?.users ?? []) if (u.name && !users.has(u.name)) users.set(u.name, { entry: u.user ?? {}, dir });
    for (const c of doc?.contexts ?? []) if (c.name && !contexts.has(c.name)) contexts.set(c.name, c.context ?? {});
    current ||= doc?.['current-context'];
  }
  return { clusters, users, contexts, current };
}

/**
 * The thin client does not run exec or auth-provider kubeconfig plugins (gcloud, aws, kubelogin)
 * and is not meant to: in a cluster the operator uses its service account, and off-cluster a
 * kubeconfig with a token or client certificate. Plugins and proxies would need code the operator
 * does not carry; failing at start-up beats failing every request.
 */
const UNSUPPORTED_USER = ['exec', 'auth-provider', 'username', 'password', 'as'];
const UNSUPPORTED_CLUSTER = ['proxy-url'];

function currentAccess(files: Source[]): KubeAccess {
  const s = merge(files);
  if (!s.current) throw new KubeAccessError('kubeconfig has no current-context');
  const context = s.contexts.get(s.current);
  if (!context) throw new KubeAccessError(`kubeconfig: current-context ${s.current} is not defined`);
  const cluster = s.clusters.get(String(context.cluster));
  if (!cluster) throw new KubeAccessError(`kubeconfig: context ${s.current} names an undefined cluster ${String(context.cluster)}`);
  const c = cluster.entry;
  if (typeof c.server !== 'string' || !c.server) throw new KubeAccessError(`kubeconfig: cluster ${String(context.cluster)} has no server`);
  const unsupportedCluster = UNSUPPORTED_CLUSTER.find((k) => c[k] != null);
  if (unsupportedCluster) throw new KubeAccessError(`kubeconfig: cluster ${String(context.cluster)} uses ${unsupportedCluster}, which the operator does not support`);
  const access: KubeAccess = { server: c.server.replace(/\/+$/, '') };
  const ca = pem(c, 'certificate-authority', cluster.dir);
  if (ca) access.ca = ca;
  if (c['insecure-skip-tls-verify'] === true) access.insecureSkipTlsVerify = true;
  if (typeof c['tls-server-name'] === 'string') access.tlsServerName = c['tls-server-name'];

  if (context.user == null) return access;
  const user = s.users.get(String(context.user));
  if (!user) throw new KubeAccessError(`kubeconfig: context ${s.current} names an undefined user ${String(context.user)}`);
  const u = user.entry;
  const unsupportedUser = UNSUPPORTED_USER.find((k) => u[k] != null);
  if (unsupportedUser) {
    throw new KubeAccessError(`kubeconfig: user ${String(context.user)} uses ${unsupportedUser}, which the operator does not support; give it a token or a client certificate`);
  }
  const cert = pem(u, 'client-certificate', user.dir);
  const key = pem(u, 'client-key', user.dir);
  if (!cert !== !key) throw new KubeAccessError(`kubeconfig: user ${String(context.user)} needs both a client certificate and its key`);
  if (cert && key) Object.assign(access, { cert, key });
  if (typeof u.token === 'string' && u.token) access.token = u.token;
  else if (typeof u.tokenFile === 'string') {
    access.tokenFile = resolve(user.dir, u.tokenFile);
    access.token = read(access.tokenFile, 'tokenFile').toString('utf8').trim();
  }
  return access;
}

/** `<field>-data` (base64) or `<field>` (a file). */
function pem(entry: Entry, field: string, dir: string): Buffer | undefined {
  const data = entry[`${field}-data`];
  if (typeof data === 'string' && data) return Buffer.from(data, 'base64');
  const file = entry[field];
  return typeof file === 'string' && file ? read(resolve(dir, file), field) : undefined;
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new KubeAccessError(`${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}
