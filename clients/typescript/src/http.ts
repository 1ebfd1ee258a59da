/**
 * Typed calls of Herald's HTTP routes: openapi-fetch typed with the types openapi-typescript generates from
 * Herald's OpenAPI document (src/generated/http.ts). A path, a parameter or a body member the document does
 * not have is a compile error, and so is a missing required one; every error answer is a `Problem`
 * (RFC 9457, application/problem+json).
 *
 *   const http = createHeraldHttp({ token: () => accessToken });
 *   const { data, error, response } = await http.POST('/api/v1/reports', { body: { title: 'Q3' } });
 *   if (error) console.warn(response.status, error.title, error.detail);
 *   else console.log(data.report_id);
 */
import createClient, {
  type Client,
  type ClientPathsWithMethod,
  type FetchResponse,
  type MaybeOptionalInit,
} from 'openapi-fetch';

import type { components, paths } from './generated/http';

export type { components as HttpComponents, paths as HttpPaths };

/** What Herald answers for every error (application/problem+json). */
export type Problem = components['schemas']['Problem'];

type Method = 'get' | 'put' | 'post' | 'delete' | 'patch';
type Init<P, M extends Method> = MaybeOptionalInit<P, M & keyof P>;

/** A call of one method. openapi-fetch infers its options as a type parameter of their own, which lets an
 *  unknown body member through once the required ones are there (openapi-ts/openapi-typescript#1769); here the
 *  options are typed by the path alone, so TypeScript checks the literal against it: no member it lacks. */
export type HttpMethodCall<M extends Method> = <P extends ClientPathsWithMethod<Client<paths>, M>>(
  url: P,
  ...init: undefined extends Init<paths[P], M> ? [Init<paths[P], M>?] : [Init<paths[P], M>]
) => Promise<FetchResponse<paths[P][M & keyof paths[P]] & Record<string | number, any>, Init<paths[P], M>, `${string}/${string}`>>;

/** The typed client: `GET`, `POST`, `DELETE`… of the document's paths (and openapi-fetch's `use`, `request`). */
export type HeraldHttp = Omit<Client<paths>, 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH'> & {
  GET: HttpMethodCall<'get'>;
  PUT: HttpMethodCall<'put'>;
  POST: HttpMethodCall<'post'>;
  DELETE: HttpMethodCall<'delete'>;
  PATCH: HttpMethodCall<'patch'>;
};

export interface HeraldHttpOptions {
  /** The service's address; default: the page's own origin. */
  baseUrl?: string;
  /** The bearer token to send, asked before each call (null: none). */
  token?: () => string | null | undefined;
  /** The fetch to call (default: the global one). */
  fetch?: typeof fetch;
  /** Whether to send cookies (default: same-origin, what the stream cookie needs). */
  credentials?: RequestCredentials;
}

/** A typed client of Herald's HTTP routes that sends the bearer token `token` gives, when it gives one. */
export function createHeraldHttp(options: HeraldHttpOptions = {}): HeraldHttp {
  const client = createClient<paths>({
    baseUrl: options.baseUrl ?? '',
    credentials: options.credentials ?? 'same-origin',
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const { token } = options;
  if (token) {
    client.use({
      onRequest({ request }) {
        const value = token();
        if (value) request.headers.set('Authorization', `Bearer ${value}`);
        return request;
      },
    });
  }
  return client as HeraldHttp;
}

/** An error answer as an Error: its problem document and status. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(`${status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ''}`);
    this.name = 'ProblemError';
  }
}

/** The data of a successful call, or a `ProblemError` thrown for an error answer. */
export async function ok<T>(call: Promise<{ data?: T; error?: Problem; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) {
    // an error answer without a body (a proxy's, say) has no problem document: make the plain one of RFC 9457
    throw new ProblemError(response.status, error ?? { type: 'about:blank', status: response.status, title: response.statusText });
  }
  return data as T;
}
