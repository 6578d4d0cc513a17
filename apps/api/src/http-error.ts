import type { FieldIssue } from './validation.js';

/** An error a route throws to answer with a given status and the API's error body. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** Response headers that belong with this answer (e.g. `Allow` on a 405). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The one error shape of every API answer: `{ error: { code, message, field?, issues? } }`. */
export function errorBody(code: string, message: string, field?: string, issues?: FieldIssue[]) {
  return { error: { code, message, ...(field ? { field } : {}), ...(issues ? { issues } : {}) } };
}
