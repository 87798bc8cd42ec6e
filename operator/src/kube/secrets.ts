import { type KubeClient, resourcePath } from './client.js';
import { classify, Failure } from './errors.js';

/**
 * One Secret's data (base64 values, as the API server holds them), read on demand rather than
 * watched: only the Kafka lag reader needs Secrets, only when it (re)connects, and a watch would
 * cache every Secret of the watched namespaces in the operator. undefined when it does not exist.
 */
export async function readSecretData(client: KubeClient, namespace: string, name: string): Promise<Readonly<Record<string, string>> | undefined> {
  try {
    const secret = await client.request<{ data?: Record<string, string> }>('GET', resourcePath('v1', 'secrets', namespace, name));
    return secret.data ?? {};
  } catch (err) {
    if (classify(err) === Failure.NotFound) return undefined;
    throw err;
  }
}
