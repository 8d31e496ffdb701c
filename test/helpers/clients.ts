import { assertResponseMatchesSpec } from './openapi.js';

export interface RestResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** An HTTP client for the REST face that checks every response against TMI's OpenAPI contract. */
export function restClient(baseUrl: string, token?: string) {
  async function request<T = any>(
    method: string,
    path: string,
    options: {
      body?: unknown;
      rawBody?: string;
      contentType?: string;
      headers?: Record<string, string>;
      validate?: boolean;
    } = {},
  ): Promise<RestResponse<T>> {
    const headers: Record<string, string> = {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...options.headers,
    };
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const response = await fetch(`${baseUrl}${path}`, { method, headers, body, redirect: 'manual' });
    const text = await response.text();
    const contentType = response.headers.get('content-type');
    const parsed = text && contentType?.includes('json') ? JSON.parse(text) : text || undefined;
    if (options.validate !== false) {
      assertResponseMatchesSpec({ method, path, status: response.status, contentType, body: parsed });
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }
  return {
    request,
    get: <T = any>(path: string, headers?: Record<string, string>) => request<T>('GET', path, { headers }),
    post: <T = any>(path: string, body?: unknown) => request<T>('POST', path, { body }),
    put: <T = any>(path: string, body: unknown, headers?: Record<string, string>) =>
      request<T>('PUT', path, { body, headers }),
    patch: <T = any>(path: string, operations: unknown, headers?: Record<string, string>) =>
      request<T>('PATCH', path, { body: operations, contentType: 'application/json-patch+json', headers }),
    delete: <T = any>(path: string) => request<T>('DELETE', path),
  };
}

export interface GraphQLResponse<T = any> {
  status: number;
  data: T | null | undefined;
  errors?: { message: string; extensions?: { code?: string; status?: number; tmi?: unknown } }[];
}

export function graphqlClient(baseUrl: string, token?: string) {
  return async function gql<T = any>(
    query: string,
    variables: Record<string, unknown> = {},
  ): Promise<GraphQLResponse<T>> {
    const response = await fetch(`${baseUrl}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
    const json = (await response.json()) as { data?: T; errors?: GraphQLResponse['errors'] };
    return { status: response.status, data: json.data, errors: json.errors };
  };
}
