import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { registerAccessControl } from './http/access.js';
import type { ServingContext } from './http/context.js';
import { registerErrorHandling } from './http/errors.js';
import { registerJsonParser } from './http/json.js';
import { healthRoutes } from './http/routes/health.js';
import { registerOpenApi } from './http/routes/openapi.js';
import { playgroundRoutes } from './http/routes/playground.js';
import { predictRoutes } from './http/routes/predict.js';
import { sentimentRoutes } from './http/routes/sentiment.js';
import { v2Routes } from './http/routes/v2.js';

/** Builds the HTTP app without listening, so tests can inject requests or bind a port of their choosing. */
export function buildApp(context: ServingContext): FastifyInstance {
  const app = Fastify({
    logger: { level: context.config.logging.level },
    bodyLimit: context.config.server.bodyLimitBytes,
    // Types are part of the contract: "text": 5 is an error, not "5".
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    // fastify's default (0) lets a client that stalls mid-body hold its connection forever.
    requestTimeout: context.config.server.bodyTimeoutMs,
    http: {
      headersTimeout: context.config.server.headersTimeoutMs,
      // Node checks the two timeouts above on this period (30 s by default), so it bounds their precision.
      connectionsCheckingInterval: Math.min(1000, context.config.server.headersTimeoutMs / 2, context.config.server.bodyTimeoutMs / 2),
    },
    // The router sends each request's id on (and makes one where the client sent none), so a log
    // line here and the router's name the same request.
    requestIdHeader: 'x-request-id',
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Per-request access logs would cost more than the inference on a small model; metrics cover it.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.decorate('serving', context);
  // Beside fastify's own handler, which answers 408 and closes the socket.
  app.server.on('clientError', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') context.metrics.timedOutRequests.inc();
  });
  registerErrorHandling(app, context.metrics);
  registerJsonParser(app);
  registerAccessControl(app, context);

  app.addHook('onSend', async (_request, reply) => {
    // While draining, ask keep-alive clients to reconnect, which lands them on a ready pod.
    if (context.lifecycle.draining) void reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    context.metrics.requests.inc({ route, code: String(reply.statusCode) });
    context.metrics.requestDuration.observe({ route }, reply.elapsedTime / 1000);
  });

  // Before the routes, so it sees each of them registered.
  registerOpenApi(app, context.config);
  void app.register(healthRoutes);
  void app.register(playgroundRoutes, { page: context.config.server.playground });
  void app.register(sentimentRoutes);
  void app.register(predictRoutes);
  void app.register(v2Routes);
  return app;
}
