// The API calls the screens make, typed after the answers documented in the README.
import { call, json, upload } from "./api";
import * as session from "./session";

export const MAX_FILE_SIZE = 50 * 1024 * 1024;

export type SavedFile = {
  file_id: string;
  file_name: string;
  file_path: string;
  uploaded_at: string;
  system_tags: string[];
  user_tags: string[];
  metadata: string | null;
};

export type Lineage = {
  nodes: { file_id: string; file_name: string }[];
  edges: { source: string; target: string; type: "CUT_TO" | "CUT_FROM" }[];
};

export type Cut = { columns: string[]; file_path: string; filters: Record<string, string> };

export type SavedFilter = {
  id: string;
  name: string;
  /** null once its file is deleted. */
  file_id: string | null;
  columns: string[];
  filters: Record<string, string>;
  created_at: string;
  updated_at: string;
};

type Tokens = { access?: string; refresh?: string; user?: session.User };

export async function login(username: string, password: string): Promise<void> {
  const tokens = await json<Tokens>("/api/accounts/login/", { json: { username, password } });
  if (!(await signIn(tokens))) throw new Error("The server answered no tokens.");
}

/** Registers and signs in: with the tokens the app's register answers, else
 * (legacy answers none) by logging in. */
export async function register(username: string, email: string, password: string, password2: string) {
  const tokens = await json<Tokens>("/api/accounts/register/", { json: { username, email, password, password2 } });
  if (!(await signIn(tokens))) await login(username, password);
}

async function signIn(tokens: Tokens): Promise<boolean> {
  if (!tokens.access || !tokens.refresh) return false;
  // Legacy's login answers tokens only; the app adds the user.
  const user = tokens.user ?? (await json<session.User>("/api/accounts/user/", { token: tokens.access }));
  session.store({ access: tokens.access, refresh: tokens.refresh, user });
  return true;
}

/** Revokes both tokens on the server; signed out here whatever it answers. */
export async function logout(): Promise<void> {
  try {
    if (session.current()) {
      // The refresh token as it is when sent: an expired access token is
      // refreshed first, which replaces it.
      await call("/api/accounts/logout/", { json: () => ({ refresh: session.current()?.refresh }), auth: true });
    }
  } finally {
    session.store(null);
  }
}

export const anonymousUpload = (file: File, onProgress: (f: number) => void) =>
  upload<{ columns: string[]; file_path: string }>(
    "/api/list_cutter/csv_cutter/",
    fileForm(file),
    onProgress,
    false,
  );

export const uploadFile = (file: File, onProgress: (f: number) => void) =>
  upload<{ file_id: string; file_name: string }>("/api/list_cutter/upload/", fileForm(file), onProgress);

function fileForm(file: File): FormData {
  const form = new FormData();
  form.append("file", file, file.name);
  return form;
}

/** The cut as a streamed response (the caller reads as much as it needs). */
export const cut = (c: Cut, signedIn: boolean) =>
  call("/api/list_cutter/export_csv/", { json: c, auth: signedIn });

export const listFiles = () =>
  json<{ files: SavedFile[] }>("/api/list_cutter/list_saved_files/", { auth: true }).then((r) => r.files);

/** One saved file with its header's columns; `row_count` is null until the
 * server has counted the rows (shortly after the upload). */
export const fetchFile = (id: string) =>
  json<{
    file: { file_id: string; file_name: string; file_path: string; columns: string[]; row_count: number | null };
  }>(`/api/files/${encodeURIComponent(id)}`, { auth: true }).then((r) => r.file);

export const downloadFile = (name: string) =>
  call(`/api/list_cutter/download/${encodeURIComponent(name)}/`, { auth: true }).then((r) => r.blob());

export const deleteFile = (id: string) =>
  call(`/api/list_cutter/delete/${encodeURIComponent(id)}/`, { method: "DELETE", auth: true });

export const addTags = (id: string, tags: string[]) =>
  json<{ user_tags: string[] }>(`/api/list_cutter/update_tags/${encodeURIComponent(id)}/`, {
    method: "PATCH",
    json: { user_tags: tags },
    auth: true,
  });

export const lineage = (id: string) =>
  json<Lineage>(`/api/list_cutter/fetch_file_lineage/${encodeURIComponent(id)}/`, { auth: true });

export function saveGenerated(blob: Blob, fileName: string, c: Cut, originalId: string) {
  const form = new FormData();
  form.append("file", blob, fileName);
  form.append("file_name", fileName);
  form.append("metadata", JSON.stringify({ columns: c.columns, filters: c.filters }));
  form.append("original_file_id", originalId);
  return json<{ file_id: string; file_path: string }>("/api/list_cutter/save_generated_file/", {
    body: form,
    auth: true,
  });
}

export const listFilters = () =>
  json<{ filters: SavedFilter[] }>("/api/filters", { auth: true }).then((r) => r.filters);

export const createFilter = (f: { name: string; file_id: string; columns: string[]; filters: Record<string, string> }) =>
  json<SavedFilter>("/api/filters", { json: f, auth: true });

export const deleteFilter = (id: string) =>
  call(`/api/filters/${encodeURIComponent(id)}`, { method: "DELETE", auth: true });

export const applyFilter = (id: string) =>
  call(`/api/filters/${encodeURIComponent(id)}/apply`, { json: {}, auth: true }).then((r) => r.blob());

export const applyFilterAndSave = (id: string, saveAs: string) =>
  json<{ file_id: string; file_name: string }>(`/api/filters/${encodeURIComponent(id)}/apply`, {
    json: { save_as: saveAs },
    auth: true,
  });
