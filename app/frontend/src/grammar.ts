// The filter grammar of the cut engine (shared/src/csv_cut/filter.rs), in the
// words the cutter's hint and the About page use.

export const FILTER_HINT =
  "Empty means no filter. Examples: > 30, <= 100, = NYC, != LA, BETWEEN 25 AND 35, IN (NYC, 'LA')";

export const GRAMMAR: { form: string; meaning: string }[] = [
  { form: "> n   < n   >= n   <= n", meaning: "The cell is a number and compares so with n (n must be a number)." },
  {
    form: "= v   == v   != v",
    meaning:
      "Equal or not equal: as numbers when the cell and v are both numbers (007 = 7), otherwise as text (case-sensitive, surrounding spaces ignored). Quote v with '…' or \"…\" when it starts with < > = or !.",
  },
  { form: "BETWEEN a AND b", meaning: "The cell is a number with a ≤ cell ≤ b." },
  {
    form: "IN (v1, 'v2', \"v3\")",
    meaning: "The cell equals one of the items, by the same rule as =. Quoted items may hold commas; '' inside quotes is a quote.",
  },
  { form: "(empty)", meaning: "No filter on this column." },
];
