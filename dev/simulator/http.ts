import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, badRequest } from './status.ts';

const maxBodyBytes = 3 * 1024 * 1024;

/** Sends `body` as a complete JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-cache, private',
  });
  res.end(text);
}

/** Sends the Status object of `error`; anything that is not an ApiError becomes a 500. */
export function sendError(res: ServerResponse, error: unknown): void {
  const apiError = error instanceof ApiError ? error : new ApiError(500, `simulator error: ${String(error)}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, apiError.code, apiError.toStatus());
}

/** Reads a request body; 413 when it is larger than 3 MiB. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > maxBodyBytes) throw new ApiError(413, 'request body too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON object body; 400 when it is not a JSON object. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw badRequest('the request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('the request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** Reads a JSON object body; 415 for other content types, 400 when malformed. */
export async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? 'application/json';
  if (!/^application\/(json|merge-patch\+json|[\w.-]*\+json)\b/.test(type)) {
    throw new ApiError(415, `the body of the request was in an unknown format - accepted media types include: application/json`, 'UnsupportedMediaType');
  }
  return parseJsonObject(await readBody(req));
}

/** True for the query values Kubernetes treats as true (`true`, `1`). */
export function isTrue(value: string | null): boolean {
  return value === 'true' || value === '1';
}

/** Parses a non-negative integer query value; 400 when malformed, undefined when absent. */
export function intParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw badRequest(`${name}: Invalid value: "${raw}"`);
  return Number(raw);
}
