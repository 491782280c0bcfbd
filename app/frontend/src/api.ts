// Every call to the API: JSON in and out, the access token on authenticated
// calls, one transparent token refresh and retry on a 401, and the API's own
// error wording (`error`, `detail`, or DRF field errors) in ApiError.
import * as session from "./session";

export type FieldErrors = Record<string, string[]>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: FieldErrors = {},
  ) {
    super(message);
  }
}

/** The message and field errors in an error body, whatever its shape. */
async function errorOf(resp: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await resp.json();
  } catch {
    // Not JSON (a proxy's page): the status line is all there is.
  }
  const fields: FieldErrors = {};
  let message = "";
  if (body && typeof body === "object") {
    const obj = body as Record<string, unknown>;
    if (typeof obj.error === "string") message = obj.error;
    else if (typeof obj.detail === "string") message = obj.detail;
    for (const [key, value] of Object.entries(obj)) {
      if (Array.isArray(value) && value.every((v) => typeof v === "string")) {
        fields[key] = value as string[];
      }
    }
    if (!message && fields.non_field_errors) message = fields.non_field_errors.join(" ");
    if (!message && Object.keys(fields).length) message = "Please correct the fields marked below.";
  }
  if (!message) message = `The server answered ${resp.status} ${resp.statusText}`.trim();
  return new ApiError(resp.status, message, fields);
}

type Options = {
  method?: string;
  /** The JSON body, or a function building it at each send (so that a retry
   * after a token refresh can carry what the refresh changed). */
  json?: unknown;
  body?: BodyInit;
  auth?: boolean;
  /** An access token to send instead of the session's (right after sign-in). */
  token?: string;
};

let refreshing: Promise<boolean> | null = null;

/** Swaps the refresh token for new tokens; concurrent callers share one attempt
 * (the server revokes a refresh token once it is used). */
export function refreshTokens(): Promise<boolean> {
  refreshing ??= (async () => {
    const s = session.current();
    if (!s) return false;
    const resp = await fetch("/api/accounts/token/refresh/", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh: s.refresh }),
    });
    if (!resp.ok) {
      session.store(null);
      return false;
    }
    const tokens = await resp.json();
    session.store({ ...s, access: tokens.access, refresh: tokens.refresh ?? s.refresh });
    return true;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

function send(path: string, opts: Options): Promise<Response> {
  const headers: Record<string, string> = {};
  let body = opts.body;
  if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(typeof opts.json === "function" ? opts.json() : opts.json);
  }
  const bearer = opts.token ?? (opts.auth ? session.current()?.access : undefined);
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  return fetch(path, { method: opts.method ?? (body ? "POST" : "GET"), headers, body });
}

/** The response when it is a success, else the API's error. */
export async function call(path: string, opts: Options = {}): Promise<Response> {
  let resp = await send(path, opts);
  if (resp.status === 401 && opts.auth && session.current()) {
    if (await refreshTokens()) resp = await send(path, opts);
    else throw new ApiError(401, "Your session has ended. Please sign in again.");
  }
  if (!resp.ok) throw await errorOf(resp);
  return resp;
}

export async function json<T>(path: string, opts: Options = {}): Promise<T> {
  const resp = await call(path, opts);
  return resp.status === 204 ? (undefined as T) : ((await resp.json()) as T);
}

/** A multipart upload with progress (fetch cannot report upload progress), with
 * the same refresh-and-retry on a 401. */
export function upload<T>(
  path: string,
  form: FormData,
  onProgress: (fraction: number) => void,
  auth = true,
): Promise<T> {
  const attempt = (): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      const s = session.current();
      if (auth && s) xhr.setRequestHeader("Authorization", `Bearer ${s.access}`);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      };
      xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText });
      xhr.onerror = () => reject(new ApiError(0, "The upload failed: the connection was lost."));
      xhr.send(form);
    });
  return (async () => {
    let result = await attempt();
    if (result.status === 401 && auth && session.current()) {
      if (!(await refreshTokens())) throw new ApiError(401, "Your session has ended. Please sign in again.");
      onProgress(0);
      result = await attempt();
    }
    const resp = new Response(result.text || null, { status: result.status });
    if (!resp.ok) throw await errorOf(resp);
    return (await resp.json()) as T;
  })();
}

/** Hands a blob to the browser as a download named `name`. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
