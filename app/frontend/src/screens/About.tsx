import { GRAMMAR } from "../grammar";

export function About() {
  return (
    <>
      <h1 tabIndex={-1}>About List Cutter</h1>
      <p>
        List Cutter cuts CSV files: upload a file, pick the columns to keep, filter the rows with small
        expressions, then download the result or save it to your files, where List Cutter remembers which file
        was cut from which.
      </p>
      <h2 id="grammar">The filter grammar</h2>
      <p>
        Each column has its own filter; a row is kept when every filter holds. Keywords are case-insensitive and
        spaces around an expression do not matter. Anything else is refused with a message naming the column.
      </p>
      <dl class="grammar">
        {GRAMMAR.map((g) => (
          <div key={g.form}>
            <dt>
              <code>{g.form}</code>
            </dt>
            <dd>{g.meaning}</dd>
          </div>
        ))}
      </dl>
      <h2>Questions</h2>
      <dl class="faq">
        <dt>Do I need an account?</dt>
        <dd>
          No: <a href="/">Cut a CSV</a> works without one, and the upload is deleted after 24 hours. An account keeps
          your files, their lineage and your saved filters.
        </dd>
        <dt>How big may a file be?</dt>
        <dd>50 MB. It must be UTF-8 text with a header row; the name must end in .csv or .txt.</dd>
        <dt>In what form is the cut written?</dt>
        <dd>
          The chosen columns in the order of the file, quoted where needed (RFC 4180), one row per line ending in a
          newline.
        </dd>
        <dt>What is the lineage?</dt>
        <dd>
          Every cut you save remembers the file it was cut from. The lineage graph of a file shows its originals and
          the files cut from it.
        </dd>
      </dl>
    </>
  );
}
