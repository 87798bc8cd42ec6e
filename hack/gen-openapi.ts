import { buildApp } from '../runtime/src/app.js';
import { validateConfig } from '../runtime/src/config/load.js';
import { Admission } from '../runtime/src/http/access.js';
import { Lifecycle } from '../runtime/src/lifecycle.js';
import { RuntimeMetrics } from '../runtime/src/metrics.js';

export const OPENAPI_FILE = 'docs/openapi.json';

/**
 * The runtime's OpenAPI document at its default settings, built from the route schemas it serves
 * (GET /openapi.json answers the same for the settings in force), for readers and API tools that
 * want it without starting a runtime.
 */
export async function renderOpenApi(): Promise<string> {
  const metrics = new RuntimeMetrics();
  const config = validateConfig({ logging: { level: 'silent' } });
  const app = buildApp({ config, lifecycle: new Lifecycle(), metrics, exposition: () => metrics.registry.metrics(), admission: Admission.forConfig(config) });
  await app.ready();
  const document = `${JSON.stringify(app.swagger(), null, 2)}\n`;
  await app.close();
  return document;
}
