import { useState } from "preact/hooks";
import { FilePicker } from "../components/FilePicker";
import { Notice } from "../components/Status";
import * as api from "../endpoints";

export function Upload() {
  const [done, setDone] = useState<{ file_id: string; file_name: string } | null>(null);
  return (
    <>
      <h1 tabIndex={-1}>Upload a file</h1>
      <p>The file is checked (CSV, UTF-8, at most 50 MB) and kept in your files.</p>
      <FilePicker
        button="Upload"
        send={async (file, onProgress) => {
          setDone(null);
          setDone(await api.uploadFile(file, onProgress));
        }}
      />
      {done && (
        <>
          <Notice message={`Uploaded ${done.file_name}.`} />
          <p>
            <a href={`/files/${encodeURIComponent(done.file_id)}/cut`}>Cut {done.file_name}</a> or go to{" "}
            <a href="/files">your files</a>.
          </p>
        </>
      )}
    </>
  );
}
