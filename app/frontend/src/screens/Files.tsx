import { useEffect, useRef, useState } from "preact/hooks";
import { saveBlob } from "../api";
import { ErrorMessage, Loading, Notice } from "../components/Status";
import * as api from "../endpoints";
import { useLoad } from "../hooks";

type Sort = "newest" | "oldest" | "name" | "name-desc";

const ORDER: Record<Sort, (a: api.SavedFile, b: api.SavedFile) => number> = {
  newest: (a, b) => b.uploaded_at.localeCompare(a.uploaded_at),
  oldest: (a, b) => a.uploaded_at.localeCompare(b.uploaded_at),
  name: (a, b) => a.file_name.localeCompare(b.file_name),
  "name-desc": (a, b) => b.file_name.localeCompare(a.file_name),
};

const tagsOf = (f: api.SavedFile) => [...f.system_tags, ...f.user_tags];

export function Files() {
  const files = useLoad(api.listFiles, "files");
  const [search, setSearch] = useState("");
  const [sort, setSort] = useState<Sort>("newest");
  const [wanted, setWanted] = useState<string[]>([]);
  const [error, setError] = useState("");
  const [notice, setNotice] = useState("");

  const all = files.data ?? [];
  const tags = [...new Set(all.flatMap(tagsOf))].sort();
  const shown = all
    .filter((f) => f.file_name.toLowerCase().includes(search.trim().toLowerCase()))
    .filter((f) => wanted.every((t) => tagsOf(f).includes(t)))
    .sort(ORDER[sort]);

  const report = (message: string, failed = false) => {
    setError(failed ? message : "");
    setNotice(failed ? "" : message);
  };

  return (
    <>
      <h1 tabIndex={-1}>My files</h1>
      <p>
        <a href="/upload">Upload a file</a>
      </p>
      <div class="toolbar">
        <div class="field">
          <label for="file-search">Search by name</label>
          <input id="file-search" type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="file-sort">Sort by</label>
          <select id="file-sort" value={sort} onChange={(e) => setSort(e.currentTarget.value as Sort)}>
            <option value="newest">Newest first</option>
            <option value="oldest">Oldest first</option>
            <option value="name">Name A–Z</option>
            <option value="name-desc">Name Z–A</option>
          </select>
        </div>
        {tags.length > 0 && (
          <fieldset class="tag-filter">
            <legend>Only files tagged</legend>
            {tags.map((tag) => (
              <label class="check" key={tag}>
                <input
                  type="checkbox"
                  checked={wanted.includes(tag)}
                  onChange={(e) =>
                    setWanted(e.currentTarget.checked ? [...wanted, tag] : wanted.filter((t) => t !== tag))
                  }
                />
                {tag}
              </label>
            ))}
          </fieldset>
        )}
      </div>
      {files.loading && <Loading what="your files" />}
      <ErrorMessage message={files.error || error} />
      <Notice message={notice} />
      {files.data && !shown.length && (
        <p>{all.length ? "No file matches the search and tags." : "You have no files yet."}</p>
      )}
      <ul class="file-list">
        {shown.map((file) => (
          <FileCard key={file.file_id} file={file} onChanged={files.reload} report={report} />
        ))}
      </ul>
    </>
  );
}

type CardProps = {
  file: api.SavedFile;
  onChanged: () => void;
  report: (message: string, failed?: boolean) => void;
};

function FileCard({ file, onChanged, report }: CardProps) {
  const [busy, setBusy] = useState("");
  const [tag, setTag] = useState("");
  const [confirming, setConfirming] = useState(false);
  const confirmButton = useRef<HTMLButtonElement>(null);
  const id = encodeURIComponent(file.file_id);
  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
  }, [confirming]);

  async function act(what: string, action: () => Promise<string>) {
    setBusy(what);
    try {
      report(await action());
    } catch (err) {
      report((err as Error).message, true);
    } finally {
      setBusy("");
    }
  }

  const addTag = (e: Event) => {
    e.preventDefault();
    const value = tag.trim();
    if (!value) return report("Type a tag first.", true);
    act("Adding the tag", async () => {
      await api.addTags(file.file_id, [value]);
      setTag("");
      onChanged();
      return `Tagged ${file.file_name} “${value}”.`;
    });
  };

  const download = () =>
    act("Downloading", async () => {
      saveBlob(await api.downloadFile(file.file_name), file.file_name);
      return `Downloading ${file.file_name}.`;
    });

  const remove = () =>
    act("Deleting", async () => {
      await api.deleteFile(file.file_id);
      setConfirming(false);
      onChanged();
      return `Deleted ${file.file_name}.`;
    });

  return (
    <li class="file-card" data-file-id={file.file_id}>
      <h2 class="file-name">{file.file_name}</h2>
      <p class="meta">
        Uploaded <time dateTime={file.uploaded_at}>{new Date(file.uploaded_at).toLocaleString()}</time>
      </p>
      <ul class="tags" aria-label={`Tags of ${file.file_name}`}>
        {file.system_tags.map((t) => (
          <li class="tag system" key={`s-${t}`}>
            {t}
          </li>
        ))}
        {file.user_tags.map((t) => (
          <li class="tag" key={`u-${t}`}>
            {t}
          </li>
        ))}
      </ul>
      <div class="actions">
        <a class="button" href={`/files/${id}/cut`}>
          Cut
        </a>
        <a class="button" href={`/files/${id}/lineage`}>
          Lineage
        </a>
        <button type="button" onClick={download} disabled={!!busy}>
          Download
        </button>
        <button type="button" class="danger" onClick={() => setConfirming(true)} disabled={!!busy}>
          Delete
        </button>
      </div>
      {confirming && (
        <div class="confirm" role="group" aria-label={`Confirm deleting ${file.file_name}`}>
          <p>Delete {file.file_name}? This cannot be undone.</p>
          <button type="button" class="danger" ref={confirmButton} onClick={remove} disabled={!!busy}>
            Yes, delete
          </button>
          <button type="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      )}
      <form class="inline-form" onSubmit={addTag}>
        <div class="field">
          <label for={`tag-${file.file_id}`}>New tag for {file.file_name}</label>
          <input id={`tag-${file.file_id}`} value={tag} onInput={(e) => setTag(e.currentTarget.value)} />
        </div>
        <button type="submit" disabled={!!busy}>
          Add tag
        </button>
      </form>
      {busy && (
        <p class="loading" role="status" aria-busy="true">
          {busy}…
        </p>
      )}
    </li>
  );
}
