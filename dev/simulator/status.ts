/** Shape of a `meta/v1 Status` object as the API server returns it for failures. */
export interface StatusObject {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: Record<string, unknown>;
  code: number;
}

const reasons: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/**
 * An API failure that the HTTP layer turns into a Status response with the same code.
 * Thrown anywhere inside the simulator; caught only at the request edge.
 */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: number, message: string, reason?: string, details?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.reason = reason ?? reasons[code] ?? 'Unknown';
    this.details = details;
  }

  /** The Status object for this failure. */
  toStatus(): StatusObject {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** 404 for an object that does not exist, worded like the API server. */
export function notFound(resource: string, group: string, name: string): ApiError {
  const qualified = group ? `${resource}.${group}` : resource;
  return new ApiError(404, `${qualified} "${name}" not found`, 'NotFound', { name, group, kind: resource });
}

/** 409 for creating an object whose name is taken. */
export function alreadyExists(resource: string, group: string, name: string): ApiError {
  return new ApiError(409, `${resource} "${name}" already exists`, 'AlreadyExists', { name, group, kind: resource });
}

/** 409 for an update based on a stale resourceVersion. */
export function conflict(resource: string, group: string, name: string): ApiError {
  return new ApiError(
    409,
    `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    'Conflict',
    { name, group, kind: resource },
  );
}

/** 410 for a continue token from before the last compaction. */
export function continueExpired(): ApiError {
  return new ApiError(
    410,
    'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
    'Expired',
  );
}

/** 404 for a path the server does not serve. */
export function unknownPath(): ApiError {
  return new ApiError(404, 'the server could not find the requested resource', 'NotFound', {});
}

/** 410 for a resourceVersion older than the last compaction. */
export function tooOld(requested: number, oldest: number): ApiError {
  return new ApiError(410, `too old resource version: ${requested} (${oldest})`, 'Expired');
}

/** 401 for a request without valid credentials. */
export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized');
}

/** 400 with the given message. */
export function badRequest(message: string): ApiError {
  return new ApiError(400, message, 'BadRequest');
}

/** Status for an injected or simulated failure of any HTTP code. */
export function injectedFailure(code: number): ApiError {
  return new ApiError(code, `simulated failure (HTTP ${code})`);
}
