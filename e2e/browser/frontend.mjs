// Drives the List Cutter frontend in headless Chromium through the gateway and
// prints what it saw as one JSON line for the Rust test to check.
// Usage: node e2e/browser/frontend.mjs <scenario> <base url> <options JSON>
//   scenario  journey | anonymous
//   options   {ip, artifacts, fixture, ...scenario fields} (see the scenarios below)
// Every screen is screenshotted at desktop and 375 px width into `artifacts`, and
// checked there: no horizontal overflow, an accessible name on every control.
// Any console error, page error or unexpected HTTP error fails the run.
import { createHmac } from "node:crypto";
import { mkdirSync, readFileSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launch, watch } from "./chromium.mjs";
import { tmpdir } from "node:os";

const [scenario, base, optionsJson] = process.argv.slice(2);
if (!scenario || !base || !optionsJson) {
  console.error("usage: frontend.mjs <journey|anonymous> <base url> <options JSON>");
  process.exit(2);
}
const options = JSON.parse(optionsJson);
mkdirSync(options.artifacts, { recursive: true });

const WIDTHS = { desktop: { width: 1280, height: 800 }, mobile: { width: 375, height: 740 } };
const problems = [];
const seen = { screens: [] };
// HTTP errors a step provokes on purpose: [status, path fragment], each allowed once.
const expected = [];
const apiCalls = [];

// ---------------------------------------------------------------- helpers

/** Screenshots the page at both widths, checking overflow and labels at each. */
async function shoot(page, name) {
  for (const [label, size] of Object.entries(WIDTHS)) {
    await page.setViewportSize(size);
    await page.waitForTimeout(50);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    if (overflow > 0) problems.push(`${name} at ${label} overflows by ${overflow}px`);
    const unlabeled = await page.evaluate(() =>
      [...document.querySelectorAll("input, select, textarea, button")]
        .filter((el) => {
          const byIds = (el.getAttribute("aria-labelledby") || "")
            .split(/\s+/)
            .map((id) => document.getElementById(id)?.textContent || "")
            .join("");
          const byLabels = [...(el.labels || [])].map((l) => l.textContent).join("");
          const own = el.tagName === "BUTTON" ? el.textContent : "";
          return !(el.getAttribute("aria-label") || byIds || byLabels || own || el.title || "").trim();
        })
        .map((el) => el.outerHTML.slice(0, 120)),
    );
    for (const html of unlabeled) problems.push(`${name}: control without a label: ${html}`);
    await page.screenshot({ path: join(options.artifacts, `frontend-${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(WIDTHS.desktop);
  seen.screens.push(name);
}

/** A link of the main navigation. */
function nav(page, name) {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
}

function expectError(status, pathPart) {
  expected.push([status, pathPart]);
}

/** The rows of the preview table (header first). */
function previewRows(page) {
  return page.$$eval("#preview-table tr", (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
}

async function download(page, click) {
  const [file] = await Promise.all([page.waitForEvent("download"), click()]);
  return readFileSync(await file.path(), "utf8");
}

function fixtureFile() {
  return { name: "people.csv", mimeType: "text/csv", buffer: Buffer.from(options.fixture) };
}

/** Picks the columns `keep` (after clearing all) and sets the filters. */
async function setCut(page, keep, filters) {
  await page.getByLabel("Select all").uncheck();
  for (const column of keep) await page.getByRole("checkbox", { name: column, exact: true }).check();
  for (const [column, expr] of Object.entries(filters)) await page.getByLabel(`Filter on ${column}`).fill(expr);
}

/** Clicks Preview and waits until the answer is shown (table or error). */
async function preview(page) {
  await Promise.all([
    page.waitForResponse((r) => r.url().includes("/export_csv")),
    page.getByRole("button", { name: "Preview" }).click(),
  ]);
  await page.waitForFunction(() => !document.querySelector(".cutter .loading"));
  return previewRows(page);
}

const session = (page) => page.evaluate(() => JSON.parse(localStorage.getItem("listcutter.session") || "null"));

/** The stored access token, re-signed (HS256, the shared secret) with its
 * lifetime moved into the past: valid signature, expired. */
async function expireAccessToken(page, secret) {
  const s = await session(page);
  const [head, body] = s.access.split(".");
  const claims = JSON.parse(Buffer.from(body, "base64url").toString());
  const now = Math.floor(Date.now() / 1000);
  claims.iat = now - 1200;
  claims.exp = now - 600;
  const payload = `${head}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  const expired = `${payload}.${createHmac("sha256", secret).update(payload).digest("base64url")}`;
  await page.evaluate((token) => {
    const stored = JSON.parse(localStorage.getItem("listcutter.session"));
    localStorage.setItem("listcutter.session", JSON.stringify({ ...stored, access: token }));
  }, expired);
  return expired;
}

// -------------------------------------------------------------- scenarios

const SCENARIOS = {
  /** Anonymous: upload, cut, preview, download; an unknown page. */
  async anonymous(page) {
    const o = options;
    await page.goto(base + "/");
    await page.waitForSelector("h1");
    await shoot(page, "anonymous-cutter");
    await page.getByLabel(/^CSV file/).setInputFiles(fixtureFile());
    await page.getByRole("button", { name: "Upload and read columns" }).click();
    await page.getByLabel("Select all").waitFor();
    seen.columns = await page.$$eval(".columns input", (inputs) => inputs.map((i) => i.value));
    await setCut(page, o.columns, o.filters);
    seen.preview = await preview(page);
    await shoot(page, "anonymous-cut");
    seen.download = await download(page, () => page.getByRole("button", { name: "Download CSV" }).click());
    // A file with quoted cells, commas, doubled quotes and multi-byte text,
    // longer than the preview.
    await page.getByLabel(/^CSV file/).setInputFiles({
      name: "sample.csv",
      mimeType: "text/csv",
      buffer: Buffer.from(o.sample.csv),
    });
    await page.getByRole("button", { name: "Upload and read columns" }).click();
    await page.getByRole("heading", { name: "Cut sample.csv" }).waitFor();
    await setCut(page, o.sample.columns, o.sample.filters);
    seen.samplePreview = await preview(page);
    seen.samplePreviewTitle = await page.textContent("#preview-title");
    await page.goto(base + "/no/such/page");
    seen.notFound = await page.textContent("main h1");
    await shoot(page, "not-found");
    await nav(page, "About").click();
    await page.waitForSelector("#grammar");
    seen.grammar = await page.textContent(".grammar");
    await shoot(page, "about");
  },

  /** A user's whole visit: register, sign out and in, upload, cut, save, lineage,
   * tags, download, saved filters, delete; an expired token on the way. */
  async journey(page) {
    const o = options;
    await page.goto(base + "/files");
    // Signed out, the files page sends to sign-in.
    await page.waitForURL(/\/login\?next=%2Ffiles/);
    await page.getByRole("link", { name: "Register" }).first().click();
    await page.waitForSelector("#field-password2");
    await page.fill("#field-username", o.username);
    await page.fill("#field-email", "not-an-email");
    await page.fill("#field-password", o.password);
    await page.fill("#field-password2", o.password);
    expectError(400, "/api/accounts/register");
    await page.getByRole("button", { name: "Register" }).click();
    await page.waitForSelector("#field-email-error");
    seen.emailError = await page.textContent("#field-email-error");
    await shoot(page, "register-errors");
    await page.fill("#field-email", `${o.username}@example.org`);
    await page.getByRole("button", { name: "Register" }).click();
    await page.waitForURL(/\/files$/);
    await page.getByText("You have no files yet.").waitFor();

    // Signing out with an expired access token: refreshed first, then both
    // tokens revoked (the refresh token sent is the one the refresh issued).
    seen.refreshBeforeLogout = (await session(page)).refresh;
    await expireAccessToken(page, o.jwtSecret);
    const logouts = [];
    page.on("request", (req) => {
      if (req.url().includes("/api/accounts/logout")) logouts.push(req.postDataJSON().refresh);
    });
    expectError(401, "/api/accounts/logout");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/login$/);
    seen.logoutRefreshTokens = logouts;
    seen.sessionAfterLogout = await session(page);
    await shoot(page, "login");
    // Signing in by keyboard alone.
    await page.focus("#field-username");
    await page.keyboard.type(o.username);
    await page.keyboard.press("Tab");
    await page.keyboard.type(o.password);
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/files$/);
    seen.signedInAs = await page.textContent(".who");

    // Upload: an oversize file is refused before anything is sent.
    await nav(page, "Upload").click();
    const big = join(tmpdir(), `oversize-${process.pid}.csv`);
    writeFileSync(big, "");
    truncateSync(big, 50 * 1024 * 1024 + 1);
    const callsBefore = apiCalls.length;
    await page.getByLabel(/^CSV file/).setInputFiles(big);
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    seen.oversizeError = await page.textContent("main .error");
    seen.oversizeSentRequests = apiCalls.length - callsBefore;
    unlinkSync(big);
    await page.getByLabel(/^CSV file/).setInputFiles(fixtureFile());
    await page.evaluate(() => {
      // The progress bar only lives while the upload runs: note that it appeared.
      window.sawProgress = false;
      new MutationObserver(() => {
        if (document.querySelector("progress")) window.sawProgress = true;
      }).observe(document.body, { childList: true, subtree: true });
    });
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    await page.getByText("Uploaded people.csv.").waitFor();
    seen.sawProgress = await page.evaluate(() => window.sawProgress);
    await shoot(page, "upload");

    // Cut the saved file: a bad filter first, then the real one.
    await page.getByRole("link", { name: "Cut people.csv" }).click();
    await page.getByLabel("Select all").waitFor();
    seen.savedColumns = await page.$$eval(".columns input", (inputs) => inputs.map((i) => i.value));
    await shoot(page, "cutter");
    await setCut(page, o.columns, { [o.badFilter[0]]: o.badFilter[1] });
    expectError(400, "/api/list_cutter/export_csv");
    await preview(page);
    seen.badFilterError = await page.textContent(".cutter .error");
    await shoot(page, "cutter-bad-filter");
    await page.getByLabel(`Filter on ${o.badFilter[0]}`).fill("");
    await setCut(page, o.columns, o.filters);
    seen.preview = await preview(page);
    await shoot(page, "cutter-preview");

    await page.getByLabel("Filter name").fill(o.filterName);
    await page.getByRole("button", { name: "Save as a filter" }).click();
    await page.getByText(`Saved the filter “${o.filterName}”.`).waitFor();

    // The access token runs out: the save still goes through, refreshed unnoticed.
    const expired = await expireAccessToken(page, o.jwtSecret);
    const refreshBefore = apiCalls.filter((c) => c.endsWith("/token/refresh/")).length;
    expectError(401, "/api/list_cutter/export_csv");
    await page.getByLabel("New file name").fill(o.savedName);
    await page.getByRole("button", { name: "Save to my files" }).click();
    await page.getByText(`Saved “${o.savedName}” to your files.`).waitFor();
    seen.refreshCalls = apiCalls.filter((c) => c.endsWith("/token/refresh/")).length - refreshBefore;
    const after = await session(page);
    seen.tokenReplaced = !!after && after.access !== expired;
    seen.errorShownAfterRefresh = await page.locator(".cutter .error").count();

    // The lineage of the derived file.
    await nav(page, "My files").click();
    const card = page.locator(".file-card", { has: page.getByRole("heading", { name: o.savedName, exact: true }) });
    await card.getByRole("link", { name: "Lineage" }).click();
    await page.waitForSelector("#lineage-graph .node");
    seen.lineageNodes = await page.$$eval("#lineage-graph .node text", (ts) => ts.map((t) => t.textContent));
    seen.lineageSelected = await page.textContent("#lineage-graph .node.selected text");
    seen.lineageEdges = await page.$$eval(".cuts li", (lis) => lis.map((li) => li.textContent));
    seen.lineageArrows = await page.locator("#lineage-graph path.edge").count();
    await shoot(page, "lineage");

    // Tags, search and the tag filter.
    await page.getByRole("link", { name: "Back to my files" }).click();
    await card.getByLabel(`New tag for ${o.savedName}`).fill(o.tag);
    await card.getByRole("button", { name: "Add tag" }).click();
    await card.locator(".tag", { hasText: o.tag }).waitFor();
    await page.getByRole("checkbox", { name: o.tag, exact: true }).check();
    seen.taggedFiles = await page.$$eval(".file-card .file-name", (hs) => hs.map((h) => h.textContent));
    await page.getByRole("checkbox", { name: o.tag, exact: true }).uncheck();
    await page.getByLabel("Sort by").selectOption("name-desc");
    seen.byName = await page.$$eval(".file-card .file-name", (hs) => hs.map((h) => h.textContent));
    await page.getByLabel("Search by name").fill(o.search);
    seen.searched = await page.$$eval(".file-card .file-name", (hs) => hs.map((h) => h.textContent));
    await page.getByLabel("Search by name").fill("");
    await shoot(page, "files");
    seen.download = await download(page, () => card.getByRole("button", { name: "Download", exact: true }).click());

    // Saved filters: the one saved from the cutter, applied, then deleted.
    await nav(page, "Saved filters").click();
    const filterCard = page.locator(".filter-card", { hasText: o.filterName });
    await filterCard.waitFor();
    seen.filterListed = await filterCard.textContent();
    await shoot(page, "filters");
    seen.filterDownload = await download(page, () => filterCard.getByRole("button", { name: "Apply and download" }).click());
    await filterCard.getByRole("button", { name: "Apply and save as a file" }).click();
    seen.filterSaved = await page.getByText(/^Saved .* to your files\.$/).textContent();
    await filterCard.getByRole("button", { name: "Delete", exact: true }).click();
    await filterCard.getByRole("button", { name: "Yes, delete" }).click();
    await page.getByText(`Deleted the filter ${o.filterName}.`).waitFor();
    await filterCard.waitFor({ state: "detached" });
    seen.filtersLeft = await page.locator(".filter-card").count();
    await nav(page, "My files").click();

    // Delete, with its confirmation step.
    await card.getByRole("button", { name: "Delete", exact: true }).click();
    await shoot(page, "files-confirm-delete");
    await card.getByRole("button", { name: "Yes, delete" }).click();
    await page.getByText(`Deleted ${o.savedName}.`).waitFor();
    await card.waitFor({ state: "detached" });
    seen.filesLeft = await page.$$eval(".file-card .file-name", (hs) => hs.map((h) => h.textContent));

    // A session the server no longer honours ends cleanly: back to sign-in.
    await page.evaluate(() => {
      const stored = JSON.parse(localStorage.getItem("listcutter.session"));
      localStorage.setItem("listcutter.session", JSON.stringify({ ...stored, access: "x.y.z", refresh: "x.y.z" }));
    });
    expectError(401, "/api/list_cutter/list_saved_files");
    expectError(401, "/api/accounts/token/refresh");
    await nav(page, "Upload").click();
    await nav(page, "My files").click();
    await page.waitForURL(/\/login\?next=%2Ffiles$/);
    seen.endedNotice = await page.textContent("main .notice");
    seen.sessionAfterEnd = await session(page);
  },
};

// ------------------------------------------------------------------- run

const browser = await launch();

try {
  const context = await browser.newContext({
    viewport: WIDTHS.desktop,
    acceptDownloads: true,
    // This run's client address (the gateway's rate limit and split are per client).
    extraHTTPHeaders: { "CF-Connecting-IP": options.ip },
  });
  const page = await context.newPage();
  watch(page, problems, (status, url) => {
    const i = expected.findIndex(([code, part]) => code === status && url.pathname.includes(part));
    if (i >= 0) expected.splice(i, 1);
    return i >= 0;
  });
  page.on("request", (req) => {
    const path = new URL(req.url()).pathname;
    if (path.startsWith("/api/")) apiCalls.push(`${req.method()} ${path}`);
  });

  await SCENARIOS[scenario](page);
  if (expected.length) problems.push(`expected errors that never came: ${JSON.stringify(expected)}`);
} catch (err) {
  problems.push("step failed: " + (err.stack || err));
} finally {
  await browser.close();
}
console.log(JSON.stringify({ ...seen, problems }));
process.exit(problems.length ? 1 : 0);
