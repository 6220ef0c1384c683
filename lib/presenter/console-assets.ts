import type { HTMLBundle } from 'bun';

/** One file of the console, ready to serve. */
export interface ConsoleFile {
  body: Uint8Array<ArrayBuffer>;
  gzip: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
}

/** The bundled console: its page and the assets it references under `/ui/assets/`. */
export interface ConsoleBundle {
  page: ConsoleFile;
  assets: Map<string, ConsoleFile>;
}

/** Where the page's scripts and styles are served (their names carry a content hash). */
export const consoleAssetsPath = '/ui/assets/';

function fileOf(body: Uint8Array<ArrayBuffer>, type: string): ConsoleFile {
  return { body, gzip: Bun.gzipSync(body), type, etag: `"${Bun.hash(body).toString(36)}"` };
}

const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);

/** A compiled executable holds the bundle already built (`files`); running from source, Bun builds it now. */
async function readFiles(bundle: HTMLBundle): Promise<{ name: string; body: Uint8Array<ArrayBuffer>; type: string; isPage: boolean }[]> {
  const embedded = (bundle as HTMLBundle & { files?: { path: string; loader: string; headers: Record<string, string> }[] }).files;
  if (embedded) {
    return await Promise.all(
      embedded.map(async (f) => ({
        name: baseName(f.path),
        body: new Uint8Array(await Bun.file(f.path).arrayBuffer()),
        type: f.headers['content-type'] ?? 'application/octet-stream',
        isPage: f.loader === 'html',
      })),
    );
  }
  const built = await Bun.build({ entrypoints: [bundle.index], minify: true });
  if (!built.success) throw new AggregateError(built.logs, 'the console bundle did not build');
  return await Promise.all(
    built.outputs.map(async (o) => ({ name: baseName(o.path), body: new Uint8Array(await o.arrayBuffer()), type: o.type, isPage: o.path.endsWith('.html') })),
  );
}

/**
 * Loads the console from Bun's HTML bundle (`import page from './console/index.html'`): minified
 * and built at first use when running from source, read from the executable when compiled. The
 * page's references to its assets are pointed at `/ui/assets/<hashed name>`.
 */
export async function loadConsoleBundle(bundle: HTMLBundle): Promise<ConsoleBundle> {
  const files = await readFiles(bundle);
  const page = files.find((f) => f.isPage);
  if (!page) throw new Error('the console bundle has no page');
  let html = new TextDecoder().decode(page.body);
  const assets = new Map<string, ConsoleFile>();
  for (const file of files) {
    if (file === page) continue;
    assets.set(file.name, fileOf(file.body, file.type));
    html = html.replace(new RegExp(`(["'])[./]*${file.name.replace(/[.]/g, '\\.')}\\1`, 'g'), `$1${consoleAssetsPath}${file.name}$1`);
  }
  return { page: fileOf(new TextEncoder().encode(html), 'text/html;charset=utf-8'), assets };
}

// The page talks only to this origin; it is never framed; the token in the stream's URL is never sent as a referrer.
const pageSecurityHeaders = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

/**
 * Answers a console request: the page (revalidated on every load: `no-cache` with an ETag) or a
 * hashed asset (cached for a year, immutable); gzip when the client accepts it; 304 on a matching
 * `If-None-Match`.
 */
export function serveConsoleFile(request: Request, file: ConsoleFile, kind: 'page' | 'asset'): Response {
  const headers: Record<string, string> = {
    'content-type': file.type,
    etag: file.etag,
    'cache-control': kind === 'page' ? 'no-cache' : 'public, max-age=31536000, immutable',
    vary: 'accept-encoding',
    ...(kind === 'page' ? pageSecurityHeaders : { 'x-content-type-options': 'nosniff' }),
  };
  if (request.headers.get('if-none-match') === file.etag) return new Response(null, { status: 304, headers });
  const gzip = /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '');
  if (gzip) headers['content-encoding'] = 'gzip';
  return new Response(gzip ? file.gzip : file.body, { status: 200, headers });
}
