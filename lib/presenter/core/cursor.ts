import { InputError } from './filters.ts';

/**
 * A position in the newest-first `/events` listing: the last row returned (`createdAt` as
 * PostgreSQL text, exact to the microsecond, and `seq`) and the snapshot bound `maxSeq`, so every
 * page of one listing sees the same set of rows however many are inserted meanwhile.
 */
export interface EventsCursor {
  createdAt: string;
  seq: number;
  maxSeq: number;
}

/** Encodes a cursor as opaque, URL-safe text. */
export function encodeEventsCursor(cursor: EventsCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.seq, cursor.maxSeq])).toString('base64url');
}

const timestampPattern = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:?\d{2})?|Z)$/;

/** Decodes a cursor from `encodeEventsCursor`; throws InputError `invalid_cursor` for anything else. */
export function decodeEventsCursor(text: string): EventsCursor {
  const invalid = () => new InputError('invalid_cursor', 'cursor is not a value returned by this API');
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(text)) throw invalid();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(value) || value.length !== 3) throw invalid();
  const [createdAt, seq, maxSeq] = value as unknown[];
  const isSeq = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (typeof createdAt !== 'string' || !timestampPattern.test(createdAt) || !isSeq(seq) || !isSeq(maxSeq)) throw invalid();
  return { createdAt, seq, maxSeq };
}
