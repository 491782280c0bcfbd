// A canary tester's way in, in headless Chromium: an operator issues an invite
// link on the dashboard (token sign-in, the beta form, the link shown with its
// copy button); a tester's browser opens it and gets the new app's frontend; the
// tester leaves and is back on the legacy side.
// Usage: node e2e/browser/beta.mjs <gateway url> <operator token> <label>
import { run, signInWithToken, watch } from "./chromium.mjs";

await run("beta.mjs <gateway url> <operator token> <label>", 3, async ([gateway, token, label], browser, problems) => {
  const seen = {};
  // The operator.
  const admin = await browser.newPage();
  watch(admin, problems, (_status, url) => url.pathname === "/favicon.ico");
  await signInWithToken(admin, gateway, token);
  await admin.fill("#beta-form input[name=label]", label);
  await admin.selectOption("#beta-form select[name=expires_in]", "1d");
  await admin.click("#beta-form button");
  await admin.waitForSelector("#beta-issued:not([hidden])", { timeout: 10000 });
  seen.link = await admin.inputValue("#beta-link");
  seen.copyButton = await admin.isVisible("#beta-copy");
  await admin.waitForFunction(
    (l) => [...document.querySelectorAll("#beta tbody tr")].some((tr) => tr.textContent.includes(l)),
    label,
    { timeout: 10000 },
  );
  seen.listed = await admin.textContent("#beta tbody tr:first-child");

  // The tester, in a browser of their own.
  const context = await browser.newContext();
  const page = await context.newPage();
  // Signed out, the app's frontend asks who is there and hears 401.
  watch(page, problems, (status, url) => url.pathname === "/favicon.ico" || status === 401);
  const joined = await page.goto(seen.link);
  seen.joinedUrl = page.url();
  seen.joinedBy = joined.headers()["x-served-by"];
  seen.joinedReason = joined.headers()["x-route-reason"];
  seen.cookie = (await context.cookies()).find((c) => c.name === "lc_beta") || null;
  seen.title = await page.title();
  const left = await page.goto(gateway + "/beta/leave");
  seen.leftUrl = page.url();
  seen.leftBy = left.headers()["x-served-by"];
  seen.cookieAfterLeave = (await context.cookies()).some((c) => c.name === "lc_beta");
  return seen;
});
