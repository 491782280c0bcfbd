//! `cutover shadow report` as text: the rate and totals, one line per route, its
//! last difference (paths and value summaries, as the gateway keeps them) and
//! what holds percentage raises. `--json` prints the gateway's report as it is.

use serde_json::Value;
use std::fmt::Write;

pub fn render(report: &Value) -> String {
    let mut out = String::new();
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let total = &report["total"];
    let _ = writeln!(
        out,
        "shadow rate {}%: {} compared, {} differing ({}%), {} shadow errors",
        (report["rate"].as_f64().unwrap_or(0.0) * 1000.0).round() / 10.0,
        n(&total["compared"]),
        n(&total["differing"]),
        total["diff_rate"],
        n(&total["errors"]),
    );
    for (route, r) in report["routes"].as_object().into_iter().flatten() {
        let _ = writeln!(
            out,
            "{route}\n  compared {}, equal {}, differing {} ({}%), errors {}",
            n(&r["compared"]),
            n(&r["equal"]),
            n(&r["differing"]),
            r["diff_rate"],
            n(&r["errors"]),
        );
        if let Some(last) = r["examples"].get(0) {
            let [path, primary, candidate] = sides(last);
            let _ = writeln!(out, "  last difference: {path} ({primary} vs {candidate})");
            for d in last["differences"].as_array().into_iter().flatten() {
                let [path, primary, candidate] = sides(d);
                let _ = writeln!(out, "    {path}: {primary} → {candidate}");
            }
        }
    }
    for problem in report["problems"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "holds raises past {}%: {}",
            report["thresholds"]["hold_above"],
            problem.as_str().unwrap_or_default()
        );
    }
    out
}

/// The path of an example or of one of its differences, and what each side had there.
fn sides(v: &Value) -> [&str; 3] {
    ["path", "primary", "candidate"].map(|k| v[k].as_str().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn routes_differences_and_holds_are_listed() {
        let report = json!({
            "rate": 0.25,
            "total": {"compared": 4, "differing": 1, "diff_rate": 25.0, "errors": 2},
            "routes": {"GET /api/accounts/user/": {
                "compared": 4, "equal": 3, "differing": 1, "diff_rate": 25.0, "errors": 2,
                "examples": [{"path": "/api/accounts/user/", "primary": "legacy", "candidate": "app-blue",
                              "differences": [{"path": "status", "primary": "200", "candidate": "401"}]}]}},
            "problems": ["GET /api/accounts/user/: 25% of 4 answers differ (over 1%)"],
            "thresholds": {"hold_above": 10}
        });
        let text = render(&report);
        assert!(
            text.starts_with("shadow rate 25%: 4 compared, 1 differing (25.0%), 2 shadow errors\n"),
            "{text}"
        );
        assert!(
            text.contains("  compared 4, equal 3, differing 1 (25.0%), errors 2\n"),
            "{text}"
        );
        assert!(text.contains("    status: 200 → 401\n"), "{text}");
        assert!(
            text.contains("holds raises past 10%: GET /api/accounts/user/"),
            "{text}"
        );
    }
}
