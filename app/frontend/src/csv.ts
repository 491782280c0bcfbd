// Just enough CSV (RFC 4180: quoted fields, doubled quotes, newlines inside
// quotes) to show the first rows of a cut without reading all of it.

/** The complete records in `text`, and whether the last one was cut short. */
export function parseRecords(text: string): { records: string[][]; partial: boolean } {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      record.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      record.push(field);
      records.push(record);
      record = [];
      field = "";
    } else {
      field += c;
    }
    i++;
  }
  const partial = quoted || field !== "" || record.length > 0;
  return { records, partial };
}

/** The header and up to `limit` rows from a CSV response; stops reading (and
 * cancels the rest of the stream) once it has them. */
export async function firstRows(
  resp: Response,
  limit: number,
): Promise<{ header: string[]; rows: string[][]; more: boolean }> {
  const reader = resp.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let done = false;
  while (!done) {
    const chunk = await reader.read();
    done = chunk.done;
    text += decoder.decode(chunk.value ?? new Uint8Array(), { stream: !done });
    if (parseRecords(text).records.length > limit + 1) break;
  }
  if (!done) await reader.cancel();
  const { records, partial } = parseRecords(text);
  // A stream that ended mid-record (no final newline) still ends the record.
  if (done && partial) records.push(...parseRecords(text + "\n").records.slice(records.length));
  const [header = [], ...rows] = records;
  return { header, rows: rows.slice(0, limit), more: !done || rows.length > limit };
}
