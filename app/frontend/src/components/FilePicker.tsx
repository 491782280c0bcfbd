import { useState } from "preact/hooks";
import { MAX_FILE_SIZE } from "../endpoints";
import { Progress } from "./Progress";
import { ErrorMessage } from "./Status";

type Props = {
  /** Sends the file, reporting progress; its rejection is shown as the error. */
  send: (file: File, onProgress: (fraction: number) => void) => Promise<void>;
  button: string;
};

/** A CSV file input that checks the size before anything is sent, then uploads
 * with a progress bar. */
export function FilePicker({ send, button }: Props) {
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState("");

  async function submit(e: Event) {
    e.preventDefault();
    setError("");
    if (!file) return setError("Choose a CSV file first.");
    if (file.size > MAX_FILE_SIZE) {
      // The server's own wording for the same refusal, said before any byte is sent.
      return setError(`File size exceeds 50.00MB limit: ${file.name} is ${file.size.toLocaleString("en")} bytes.`);
    }
    setProgress(0);
    try {
      await send(file, setProgress);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setProgress(null);
    }
  }

  return (
    <form onSubmit={submit} class="file-picker">
      <div class="field">
        <label for="csv-file">CSV file (.csv or .txt, at most 50 MB)</label>
        <input
          id="csv-file"
          type="file"
          accept=".csv,.txt,text/csv,text/plain"
          onChange={(e) => {
            setError("");
            setFile(e.currentTarget.files?.[0] ?? null);
          }}
        />
      </div>
      <button type="submit" disabled={progress !== null}>
        {button}
      </button>
      {progress !== null && <Progress fraction={progress} label={`Uploading ${file?.name ?? ""}`} />}
      <ErrorMessage message={error} />
    </form>
  );
}
