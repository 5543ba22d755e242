/**
 * `/` (where to go: the console, the API reference, the OpenAPI document) and `/docs`, the API
 * reference: Swagger UI (swagger-ui-dist, served from node_modules, no CDN) reading
 * /openapi.json. Its scripts are this origin's files, so the CSP allows scripts from 'self'
 * only; Swagger UI sets style attributes while it renders, so /docs alone allows inline styles.
 */
import path from 'node:path';
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { renderToString } from 'preact-render-to-string';
import { CONSOLE_CSP } from './console/session';

const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** The files of swagger-ui-dist this page needs, and nothing else of the package. */
const SWAGGER_FILES = ['swagger-ui.css', 'swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js', 'favicon-32x32.png'];

const INIT_JS = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: 'StandaloneLayout',
  });
});
`;

function headers(csp: string) {
  return (_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    res.setHeader('X-Frame-Options', 'DENY');
    next();
  };
}

function swaggerDir(): string {
  return path.dirname(require.resolve('swagger-ui-dist/package.json'));
}

function docsPage(): string {
  return `<!doctype html>\n${renderToString(
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>order-saga API reference</title>
        <link rel="stylesheet" href="/docs/assets/swagger-ui.css" />
        <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" />
      </head>
      <body>
        <main id="swagger-ui">
          <noscript>
            The API reference needs JavaScript; the document itself is <a href="/openapi.json">/openapi.json</a>.
          </noscript>
        </main>
        <script src="/docs/assets/swagger-ui-bundle.js"></script>
        <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
        <script src="/docs/init.js"></script>
      </body>
    </html>,
  )}`;
}

function homePage(): string {
  return `<!doctype html>\n${renderToString(
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>order-saga</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
      </head>
      <body>
        <header class="top">
          <span class="brand">order-saga</span>
        </header>
        <main>
          <h1>order-saga</h1>
          <p>
            An order saga orchestrator: Temporal workflows, a double-entry ledger, stock reservations and a transactional outbox to Kafka.
          </p>
          <ul>
            <li>
              <a href="/console">Operator console</a> — sign in with an admin API key
            </li>
            <li>
              <a href="/docs">API reference</a> — every operation of the REST API
            </li>
            <li>
              <a href="/openapi.json">OpenAPI document</a> (JSON)
            </li>
          </ul>
        </main>
      </body>
    </html>,
  )}`;
}

/** `anonymous`: the API's rate limit for unauthenticated requests. */
export function docsRouter(anonymous: RequestHandler): Router {
  const router = Router();
  const dir = swaggerDir();
  router.get('/', anonymous, headers(CONSOLE_CSP), (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('html').send(homePage());
  });
  router.get('/docs', anonymous, headers(DOCS_CSP), (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('html').send(docsPage());
  });
  router.get('/docs/init.js', anonymous, headers(DOCS_CSP), (_req, res) => {
    res.type('js').send(INIT_JS);
  });
  for (const file of SWAGGER_FILES) {
    router.get(`/docs/assets/${file}`, anonymous, headers(DOCS_CSP), (_req, res) => {
      res.setHeader('Cache-Control', 'public, max-age=3600');
      res.sendFile(path.join(dir, file));
    });
  }
  return router;
}
