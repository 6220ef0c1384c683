/** Request headers a browser may send cross-origin (the Krateo frontend's set). */
export const corsAllowedHeaders = 'Authorization, Content-Type, Last-Event-ID, X-Krateo-TraceId, Cache-Control';

/**
 * CORS headers for a response to `request`: `*` when any origin is allowed, else the request's
 * Origin echoed when listed (with `Vary: Origin`), else none (the browser then refuses it).
 */
export function corsHeaders(origins: readonly string[], request: Request): Record<string, string> {
  if (origins.includes('*')) return { 'access-control-allow-origin': '*' };
  const origin = request.headers.get('origin');
  if (origin === null || !origins.includes(origin)) return { vary: 'Origin' };
  return { 'access-control-allow-origin': origin, vary: 'Origin' };
}

/** The answer to a preflight (`OPTIONS`): 204, no token needed. */
export function preflightResponse(origins: readonly string[], request: Request): Response {
  return new Response(null, {
    status: 204,
    headers: {
      ...corsHeaders(origins, request),
      'access-control-allow-methods': 'GET, POST, OPTIONS',
      'access-control-allow-headers': corsAllowedHeaders,
      'access-control-max-age': '600',
    },
  });
}
