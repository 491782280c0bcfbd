import { useState } from "preact/hooks";
import { CutterPanel } from "../components/CutterPanel";
import { FilePicker } from "../components/FilePicker";
import * as api from "../endpoints";

/** Upload a CSV, no account needed (kept 24 hours), and cut it. */
export function AnonymousCutter({ signedIn }: { signedIn: boolean }) {
  const [upload, setUpload] = useState<{ columns: string[]; file_path: string; name: string } | null>(null);
  return (
    <>
      <h1 tabIndex={-1}>Cut a CSV</h1>
      <p>
        Upload a CSV file, pick the columns to keep and filter the rows. No account is needed; the upload is
        deleted after 24 hours.{" "}
        {signedIn ? (
          <>
            To keep files and their lineage, <a href="/upload">upload to your files</a>.
          </>
        ) : (
          <>
            <a href="/register">Register</a> to keep files, their lineage and your filters.
          </>
        )}
      </p>
      <FilePicker
        button="Upload and read columns"
        send={async (file, onProgress) => {
          setUpload(null);
          const answer = await api.anonymousUpload(file, onProgress);
          setUpload({ ...answer, name: file.name });
        }}
      />
      {upload && (
        <section aria-labelledby="cut-title">
          <h2 id="cut-title">Cut {upload.name}</h2>
          <CutterPanel key={upload.file_path} columns={upload.columns} filePath={upload.file_path} signedIn={false} />
        </section>
      )}
    </>
  );
}
