import { ErrorMessage, Loading } from "../components/Status";
import * as api from "../endpoints";
import { useLoad } from "../hooks";
import { BOX, layout } from "../lineage";

const short = (name: string) => (name.length > 24 ? `${name.slice(0, 23)}…` : name);

export function Lineage({ fileId }: { fileId: string }) {
  const lineage = useLoad(() => api.lineage(fileId), fileId);
  const self = lineage.data?.nodes.find((n) => n.file_id === fileId);
  const graph = lineage.data?.nodes.length ? layout(lineage.data) : null;
  return (
    <>
      <h1 tabIndex={-1}>Lineage{self ? ` of ${self.file_name}` : ""}</h1>
      <p>Which file was cut from which: originals on the left, files cut from them to their right.</p>
      {lineage.loading && <Loading what="the lineage" />}
      <ErrorMessage message={lineage.error} />
      {lineage.data && !graph && <p>This file has no originals and no files cut from it.</p>}
      {graph && (
        <>
          <div class="graph-scroll" tabIndex={0} role="region" aria-label="Lineage graph">
            <svg
              id="lineage-graph"
              width={graph.width}
              height={graph.height}
              viewBox={`0 0 ${graph.width} ${graph.height}`}
              role="img"
              aria-labelledby="lineage-graph-title"
            >
              <title id="lineage-graph-title">
                Lineage graph: {graph.links.map((l) => `${l.from.file_name} → ${l.to.file_name}`).join(", ") || "no cuts"}
              </title>
              <defs>
                <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto">
                  <path d="M0,0 L10,5 L0,10 z" class="arrow-head" />
                </marker>
              </defs>
              {graph.links.map((l) => (
                <path
                  key={`${l.from.file_id}-${l.to.file_id}`}
                  class="edge"
                  marker-end="url(#arrow)"
                  d={`M${l.from.x + BOX.width},${l.from.y + BOX.height / 2} C${l.from.x + BOX.width + BOX.gapX / 2},${
                    l.from.y + BOX.height / 2
                  } ${l.to.x - BOX.gapX / 2},${l.to.y + BOX.height / 2} ${l.to.x},${l.to.y + BOX.height / 2}`}
                />
              ))}
              {graph.nodes.map((n) => (
                <g
                  key={n.file_id}
                  class={n.file_id === fileId ? "node selected" : "node"}
                  data-file-id={n.file_id}
                  transform={`translate(${n.x},${n.y})`}
                >
                  <title>{n.file_name}</title>
                  <rect width={BOX.width} height={BOX.height} rx="6" />
                  <text x={BOX.width / 2} y={BOX.height / 2} dominant-baseline="middle" text-anchor="middle">
                    {short(n.file_name)}
                  </text>
                </g>
              ))}
            </svg>
          </div>
          {graph.links.length > 0 && (
            <>
              <h2>Cuts</h2>
              <ul class="cuts">
                {graph.links.map((l) => (
                  <li key={`${l.from.file_id}-${l.to.file_id}`}>
                    <a href={`/files/${encodeURIComponent(l.from.file_id)}/lineage`}>{l.from.file_name}</a> →{" "}
                    <a href={`/files/${encodeURIComponent(l.to.file_id)}/lineage`}>{l.to.file_name}</a>
                  </li>
                ))}
              </ul>
            </>
          )}
        </>
      )}
      <p>
        <a href="/files">Back to my files</a>
      </p>
    </>
  );
}
