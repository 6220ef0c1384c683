import { InputError, type FilterInput } from './filters.ts';

/** Largest `POST /events` body accepted (1 MiB; filters are a few hundred bytes). */
export const maxBodyBytes = 1_048_576;

const tooLarge = () => new InputError('body_too_large', `body must be at most ${maxBodyBytes} bytes`);

/**
 * Reads a JSON object body of at most `maxBodyBytes`. Guarantees: a declared larger length is
 * refused unread, and a chunked body is read piece by piece and refused (reading stops) as soon as
 * it passes the limit, so a client cannot make the server hold more than the limit plus one chunk;
 * an empty body is `{}`; anything but a JSON object is `invalid_body`.
 */
export async function readJsonBody(request: Request): Promise<FilterInput> {
  if (Number(request.headers.get('content-length') ?? 0) > maxBodyBytes) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > maxBodyBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InputError('invalid_body', 'body must be a JSON object');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InputError('invalid_body', 'body must be a JSON object');
  return body as FilterInput;
}
