import { useState } from "preact/hooks";
import { saveBlob } from "../api";
import { ErrorMessage, Loading, Notice } from "../components/Status";
import * as api from "../endpoints";
import { useLoad } from "../hooks";

const describe = (f: api.SavedFilter) => {
  const rules = Object.entries(f.filters).map(([column, expr]) => `${column} ${expr}`);
  return `Columns ${f.columns.join(", ")}${rules.length ? `; rows where ${rules.join(" and ")}` : "; all rows"}`;
};

export function Filters() {
  // The file names, to say which file each filter cuts.
  const data = useLoad(() => Promise.all([api.listFilters(), api.listFiles()]), "filters");
  const [busy, setBusy] = useState("");
  const [error, setError] = useState("");
  const [notice, setNotice] = useState("");
  const [confirming, setConfirming] = useState("");

  const [filters, files] = data.data ?? [[], []];
  const source = (id: string | null) => {
    const file = files.find((f) => f.file_id === id);
    return file ? <a href={`/files/${encodeURIComponent(file.file_id)}/cut`}>{file.file_name}</a> : "a deleted file";
  };

  async function act(what: string, action: () => Promise<string>) {
    setBusy(what);
    setError("");
    setNotice("");
    try {
      setNotice(await action());
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy("");
    }
  }

  return (
    <>
      <h1 tabIndex={-1}>Saved filters</h1>
      <p>
        A saved filter remembers a cut of one of your files. Save one from the cutter of a file in{" "}
        <a href="/files">My files</a>; apply it here to download the cut or save it as a new file.
      </p>
      {data.loading && <Loading what="your filters" />}
      <ErrorMessage message={data.error || error} />
      <Notice message={notice} />
      {busy && (
        <p class="loading" role="status" aria-busy="true">
          {busy}…
        </p>
      )}
      {data.data && !filters.length && <p>You have no saved filters yet.</p>}
      <ul class="filter-list">
        {filters.map((f) => (
          <li class="filter-card" key={f.id} data-filter-id={f.id}>
            <h2>{f.name}</h2>
            <p class="meta">
              On {source(f.file_id)}. {describe(f)}.
            </p>
            <div class="actions">
              <button
                type="button"
                disabled={!!busy}
                onClick={() =>
                  act(`Applying ${f.name}`, async () => {
                    saveBlob(await api.applyFilter(f.id), `${f.name}.csv`);
                    return `Downloading the cut of ${f.name}.`;
                  })
                }
              >
                Apply and download
              </button>
              <button
                type="button"
                disabled={!!busy}
                onClick={() =>
                  act(`Applying ${f.name}`, async () => {
                    const saved = await api.applyFilterAndSave(f.id, `${f.name}.csv`);
                    return `Saved ${saved.file_name} to your files.`;
                  })
                }
              >
                Apply and save as a file
              </button>
              <button type="button" class="danger" disabled={!!busy} onClick={() => setConfirming(f.id)}>
                Delete
              </button>
            </div>
            {confirming === f.id && (
              <div class="confirm" role="group" aria-label={`Confirm deleting the filter ${f.name}`}>
                <p>Delete the filter {f.name}? Files are not affected.</p>
                <button
                  type="button"
                  class="danger"
                  disabled={!!busy}
                  onClick={() =>
                    act(`Deleting ${f.name}`, async () => {
                      await api.deleteFilter(f.id);
                      setConfirming("");
                      data.reload();
                      return `Deleted the filter ${f.name}.`;
                    })
                  }
                >
                  Yes, delete
                </button>
                <button type="button" onClick={() => setConfirming("")}>
                  Cancel
                </button>
              </div>
            )}
          </li>
        ))}
      </ul>
    </>
  );
}
