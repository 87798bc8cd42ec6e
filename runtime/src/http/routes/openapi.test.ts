import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RouteOptions } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { OPENAPI_FILE, renderOpenApi } from '../../../../hack/gen-openapi.js';
import { buildFakeApp } from '../../../../test/support/fake-model.js';

type Operation = { security?: Record<string, string[]>[]; requestBody?: { content: Record<string, { schema: object }> }; responses: Record<string, { content?: Record<string, { schema: object }> }>; parameters?: { name: string; in: string }[] };

describe('GET /openapi.json', () => {
  it('lists every route with its request and response schemas', async () => {
    const { app } = buildFakeApp();
    const routes: RouteOptions[] = [];
    app.addHook('onRoute', (route) => void routes.push(route));
    const response = await app.inject('/openapi.json');
    expect(response.statusCode).toBe(200);
    const document = response.json() as { openapi: string; paths: Record<string, Record<string, Operation>> };
    expect(document.openapi).toMatch(/^3\./);

    const served = routes
      .flatMap((route) => [route.method].flat().map((method) => ({ method: method.toLowerCase(), url: route.url, schema: route.schema })))
      .filter((route) => route.method !== 'head' && route.url !== '/openapi.json');
    // Guards the comparison below against an empty list: sixteen routes at the time of writing.
    expect(served.length).toBeGreaterThan(10);
    const listed = Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`));
    expect(listed.sort()).toEqual(served.map((route) => `${route.method} ${route.url.replace(/:(\w+)/g, '{$1}')}`).sort());

    for (const route of served) {
      const operation = document.paths[route.url.replace(/:(\w+)/g, '{$1}')]![route.method]!;
      const where = `${route.method} ${route.url}`;
      expect(Object.values(operation.responses['200']?.content ?? {}), `${where}: 200 response schema`).not.toEqual([]);
      for (const content of Object.values(operation.responses['200']!.content!)) expect(content.schema, where).toBeTypeOf('object');
      if (route.method === 'post') expect(Object.keys(operation.requestBody?.content ?? {}), `${where}: request body`).toContain('application/json');
      const pathParams = [...route.url.matchAll(/:(\w+)/g)].map((match) => match[1]);
      expect(operation.parameters?.filter((p) => p.in === 'path').map((p) => p.name) ?? [], `${where}: path parameters`).toEqual(pathParams);
      // Inference can fail in every way the error table knows; the document says with which body.
      if (route.method === 'post') expect(Object.keys(operation.responses), where).toEqual(expect.arrayContaining(['4XX', '5XX']));
    }
    await app.close();
  });

  describe('with auth.tokenFile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentiment-openapi-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 't0ken\n');

    /** Every operation, called without a token: its answer must be 401 exactly where the document names the bearer scheme. */
    const documentedVersusEnforced = async (metrics: boolean) => {
      const { app } = buildFakeApp({ auth: { tokenFile, metrics } });
      const document = (await app.inject({ url: '/openapi.json', headers: { authorization: 'Bearer t0ken' } })).json() as {
        components: { securitySchemes?: Record<string, object> };
        paths: Record<string, Record<string, Operation>>;
      };
      const rows: { operation: string; documented: boolean; enforced: boolean }[] = [];
      for (const [path, operations] of Object.entries(document.paths)) {
        for (const [method, operation] of Object.entries(operations)) {
          const url = path.replace(/\{\w+\}/g, 'sentiment');
          const response = await app.inject({ method: method.toUpperCase() as 'GET', url, ...(method === 'post' ? { payload: {} } : {}) });
          rows.push({ operation: `${method} ${path}`, documented: operation.security !== undefined, enforced: response.statusCode === 401 });
          if (operation.security) expect(operation.security, `${method} ${path}`).toEqual([{ bearerAuth: [] }]);
        }
      }
      await app.close();
      return { schemes: document.components.securitySchemes, rows };
    };

    it('declares the bearer scheme and names it on exactly the routes that answer 401 without a token', async () => {
      const { schemes, rows } = await documentedVersusEnforced(false);
      expect(schemes).toEqual({ bearerAuth: { type: 'http', scheme: 'bearer', description: expect.any(String) } });
      expect(rows.filter((row) => row.documented !== row.enforced)).toEqual([]);
      // Inference needs the token; probes and metrics do not.
      const documented = (operation: string) => rows.find((row) => row.operation === operation)?.documented;
      expect(['post /v1/sentiment', 'post /predict', 'post /v2/models/{name}/infer', 'get /healthz', 'get /readyz', 'get /metrics'].map(documented)).toEqual([true, true, true, false, false, false]);
    });

    it('names it on /metrics too with auth.metrics', async () => {
      const { rows } = await documentedVersusEnforced(true);
      expect(rows.filter((row) => row.documented !== row.enforced)).toEqual([]);
      expect(rows.find((row) => row.operation === 'get /metrics')?.documented).toBe(true);
    });
  });

  it('declares no security without auth', async () => {
    const { app } = buildFakeApp();
    const document = (await app.inject('/openapi.json')).json() as { components: object; paths: Record<string, Record<string, Operation>> };
    expect(document.components).not.toHaveProperty('securitySchemes');
    expect(Object.values(document.paths).flatMap((operations) => Object.values(operations)).filter((operation) => operation.security)).toEqual([]);
    await app.close();
  });

  it(`is committed as ${OPENAPI_FILE} for the default settings, as npm run generate writes it`, async () => {
    expect(readFileSync(new URL(`../../../../${OPENAPI_FILE}`, import.meta.url), 'utf8')).toBe(await renderOpenApi());
  });
});
