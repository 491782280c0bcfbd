import { CutterPanel } from "../components/CutterPanel";
import { ErrorMessage, Loading } from "../components/Status";
import * as api from "../endpoints";
import { useLoad } from "../hooks";

export function SavedCutter({ fileId }: { fileId: string }) {
  const file = useLoad(() => api.fetchFile(fileId), fileId);
  const name = file.data?.file_name;
  return (
    <>
      <h1 tabIndex={-1}>Cut {name ?? "a saved file"}</h1>
      {file.loading && <Loading what="the file" />}
      <ErrorMessage message={file.error} />
      {file.data && (
        <>
          <p>
            {file.data.row_count === null ? "Rows not counted yet" : `${file.data.row_count} rows`},{" "}
            {file.data.columns.length} columns.{" "}
            <a href={`/files/${encodeURIComponent(fileId)}/lineage`}>Lineage of {name}</a>
          </p>
          <CutterPanel
            key={fileId}
            columns={file.data.columns}
            filePath={file.data.file_path}
            signedIn
            source={{ file_id: fileId, file_name: file.data.file_name }}
          />
        </>
      )}
    </>
  );
}
