// Pick columns, filter rows, preview, download and (for saved files) save the
// cut or the filter. The same panel serves the anonymous and the saved-file cutter.
import { useState } from "preact/hooks";
import { saveBlob } from "../api";
import { firstRows } from "../csv";
import * as api from "../endpoints";
import { FILTER_HINT } from "../grammar";
import { ErrorMessage, Notice } from "./Status";

const PREVIEW_ROWS = 20;

type Props = {
  columns: string[];
  filePath: string;
  signedIn: boolean;
  /** The saved file being cut: enables saving the cut (with lineage) and the filter. */
  source?: { file_id: string; file_name: string };
};

type Preview = { header: string[]; rows: string[][]; more: boolean };

export function CutterPanel({ columns, filePath, signedIn, source }: Props) {
  const [selected, setSelected] = useState<string[]>(columns);
  const [filters, setFilters] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState("");
  const [error, setError] = useState("");
  const [notice, setNotice] = useState("");
  const [preview, setPreview] = useState<Preview | null>(null);
  const base = (source?.file_name ?? "filtered.csv").replace(/\.(csv|txt)$/i, "");
  const [saveName, setSaveName] = useState(`${base}_cut.csv`);
  const [filterName, setFilterName] = useState("");

  const request = (): api.Cut => {
    const active: Record<string, string> = {};
    for (const [column, expr] of Object.entries(filters)) if (expr.trim()) active[column] = expr.trim();
    // Columns in the file's order, whatever order they were ticked in.
    return { columns: columns.filter((c) => selected.includes(c)), file_path: filePath, filters: active };
  };

  async function run(what: string, action: () => Promise<string | void>) {
    setBusy(what);
    setError("");
    setNotice("");
    try {
      const done = await action();
      if (done) setNotice(done);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy("");
    }
  }

  const needColumns = () => {
    if (!selected.length) throw new Error("Pick at least one column.");
  };

  const onPreview = () =>
    run("Cutting the preview", async () => {
      needColumns();
      setPreview(null);
      setPreview(await firstRows(await api.cut(request(), signedIn), PREVIEW_ROWS));
    });

  const onDownload = () =>
    run("Preparing the download", async () => {
      needColumns();
      const blob = await (await api.cut(request(), signedIn)).blob();
      saveBlob(blob, source ? saveName : "filtered.csv");
      return "The download has started.";
    });

  /** A save form's handler: checks the columns and the name, then saves. */
  const saving =
    (what: string, name: string, unnamed: string, save: (name: string, cut: api.Cut) => Promise<string>) =>
    (e: Event) => {
      e.preventDefault();
      run(what, async () => {
        needColumns();
        if (!name.trim()) throw new Error(unnamed);
        return save(name.trim(), request());
      });
    };

  const onSave = saving("Saving to your files", saveName, "Give the new file a name.", async (name, cut) => {
    const blob = await (await api.cut(cut, signedIn)).blob();
    await api.saveGenerated(blob, name, cut, source!.file_id);
    return `Saved “${name}” to your files.`;
  });

  const onSaveFilter = saving("Saving the filter", filterName, "Give the filter a name.", async (name, cut) => {
    await api.createFilter({ name, file_id: source!.file_id, columns: cut.columns, filters: cut.filters });
    setFilterName("");
    return `Saved the filter “${name}”.`;
  });

  const all = selected.length === columns.length;
  const toggle = (column: string, on: boolean) =>
    setSelected(on ? [...selected, column] : selected.filter((c) => c !== column));

  return (
    <div class="cutter">
      <fieldset>
        <legend>Columns to keep</legend>
        <label class="check select-all">
          <input
            type="checkbox"
            checked={all}
            indeterminate={!all && selected.length > 0}
            onChange={(e) => setSelected(e.currentTarget.checked ? columns : [])}
          />
          Select all
        </label>
        <div class="columns">
          {columns.map((column) => (
            <label class="check" key={column}>
              <input
                type="checkbox"
                name="column"
                value={column}
                checked={selected.includes(column)}
                onChange={(e) => toggle(column, e.currentTarget.checked)}
              />
              {column}
            </label>
          ))}
        </div>
      </fieldset>

      <fieldset>
        <legend>Row filters (all must hold)</legend>
        <p class="hint" id="filter-hint">
          {FILTER_HINT} <a href="/about#grammar">The filter grammar</a>
        </p>
        <div class="filters">
          {columns.map((column, i) => (
            <div class="field" key={column}>
              <label for={`filter-${i}`}>Filter on {column}</label>
              <input
                id={`filter-${i}`}
                name={`filter-${column}`}
                aria-describedby="filter-hint"
                placeholder="e.g. > 30"
                value={filters[column] ?? ""}
                onInput={(e) => setFilters({ ...filters, [column]: e.currentTarget.value })}
              />
            </div>
          ))}
        </div>
      </fieldset>

      <div class="actions">
        <button type="button" onClick={onPreview} disabled={!!busy}>
          Preview
        </button>
        <button type="button" onClick={onDownload} disabled={!!busy}>
          Download CSV
        </button>
      </div>

      {source && (
        <div class="save-forms">
          <form onSubmit={onSave} class="inline-form">
            <div class="field">
              <label for="save-name">New file name</label>
              <input id="save-name" value={saveName} onInput={(e) => setSaveName(e.currentTarget.value)} />
            </div>
            <button type="submit" disabled={!!busy}>
              Save to my files
            </button>
          </form>
          <form onSubmit={onSaveFilter} class="inline-form">
            <div class="field">
              <label for="filter-name">Filter name</label>
              <input id="filter-name" value={filterName} onInput={(e) => setFilterName(e.currentTarget.value)} />
            </div>
            <button type="submit" disabled={!!busy}>
              Save as a filter
            </button>
          </form>
        </div>
      )}

      {busy && (
        <p class="loading" role="status" aria-busy="true">
          {busy}…
        </p>
      )}
      <ErrorMessage message={error} />
      <Notice message={notice} />
      {preview && <PreviewTable preview={preview} />}
    </div>
  );
}

function PreviewTable({ preview }: { preview: Preview }) {
  return (
    <section class="preview" aria-labelledby="preview-title">
      <h2 id="preview-title">
        Preview: {preview.rows.length} {preview.rows.length === 1 ? "row" : "rows"}
        {preview.more ? ` (the first ${preview.rows.length})` : ""}
      </h2>
      <div class="table-scroll" tabIndex={0} role="region" aria-labelledby="preview-title">
        <table id="preview-table">
          <thead>
            <tr>
              {preview.header.map((h, i) => (
                <th key={i} scope="col">
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {preview.rows.map((row, r) => (
              <tr key={r}>
                {row.map((cell, c) => (
                  <td key={c}>{cell}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
