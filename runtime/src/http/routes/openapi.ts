import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import type { RuntimeConfig } from '#contract/runtime-config.js';
import { needsToken } from '../access.js';

const BEARER_SCHEME = 'bearerAuth';

/**
 * GET /openapi.json: every route registered after this, described from the same schemas that
 * validate requests and serialize responses, so the document cannot drift from what is served.
 * With auth.tokenFile set, the bearer scheme is declared and named on exactly the routes the
 * access check guards (the same needsToken), so generated clients send the token there only.
 */
export function registerOpenApi(app: FastifyInstance, config: RuntimeConfig): void {
  const auth = config.auth.tokenFile !== undefined;
  void app.register(swagger, {
    ...(auth
      ? {
          transform: ({ schema, url, route }) => ({
            url,
            schema: needsToken(config, route.config?.kind) ? { ...schema, security: [{ [BEARER_SCHEME]: [] }] } : schema,
          }),
        }
      : {}),
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'sentiment-runtime',
        description: 'Sentiment classification: the native API (/v1), text-embeddings-inference\'s /predict, KServe\'s Open Inference Protocol (/v2), probes and metrics.',
        // The HTTP API's version, as in its /v1 paths, not the package's.
        version: '1',
      },
      ...(auth ? { components: { securitySchemes: { [BEARER_SCHEME]: { type: 'http', scheme: 'bearer', description: 'One of the tokens in the runtime\'s auth.tokenFile.' } } } } : {}),
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
