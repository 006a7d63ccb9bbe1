// The browser `conduit token login` opens (BROWSER=<the wrapper token_harness.Browser writes>):
// headless Chromium at <authorize url>, either the gateway's /oauth/authorize (the IdP chooser
// if there is one, the sign-in at the IdP, then "Connect" — or "Cancel" — on the gateway's
// consent page) or an IdP's own authorization endpoint (direct-IdP mode: the IdP's login and
// consent), until the browser is on the loopback redirect_uri the URL names and that page has
// loaded.
// Env: E2E_LOGIN (the IdP login), E2E_IDP_NAME (the chooser's entry, when listed),
// E2E_CONSENT ("connect", default, or "cancel"), E2E_RESULT (a file: the outcome as JSON).
// Usage: node token_browser.mjs <authorize url>.
import { writeFileSync } from "node:fs";
import { TIMEOUT, bodyText, launch } from "./sso_steps.mjs";

const url = process.argv[2];
const redirect = new URL(url).searchParams.get("redirect_uri") ?? "";
const login = process.env.E2E_LOGIN ?? "dev";
const idpName = process.env.E2E_IDP_NAME ?? "";
const consent = process.env.E2E_CONSENT || "connect";
const step = (s) => console.error(`token_browser: ${s}`);
const result = { redirect_uri: redirect, steps: [] };

function done(extra) {
  Object.assign(result, extra);
  if (process.env.E2E_RESULT) writeFileSync(process.env.E2E_RESULT, JSON.stringify(result));
  console.log(JSON.stringify(result));
}

/// Click and wait until the page has left its URL and loaded.
async function clickAway(page, locator) {
  const before = page.url();
  await Promise.all([
    page.waitForURL((u) => u.toString() !== before, { timeout: TIMEOUT }),
    locator.click({ timeout: TIMEOUT }),
  ]);
  await page.waitForLoadState("domcontentloaded");
}

const atCallback = (page) => redirect !== "" && page.url().startsWith(redirect);

const browser = await launch();
let page;
try {
  if (!redirect.startsWith("http://127.0.0.1:") && !redirect.startsWith("http://[::1]:")) {
    throw new Error(`the authorize URL names no loopback redirect_uri: ${redirect}`);
  }
  page = await (await browser.newContext()).newPage();
  await page.goto(url);
  step(`opened ${new URL(url).origin}${new URL(url).pathname}`);
  for (let i = 0; i < 12 && !atCallback(page); i++) {
    const here = new URL(page.url());
    if (await page.locator('input[name="login"]').count()) {
      step(`login at ${here.origin}`);
      result.steps.push("idp-login");
      await page.fill('input[name="login"]', login);
      await page.fill('input[name="password"]', "any password");
      await clickAway(page, page.locator('button[type="submit"]'));
    } else if (idpName && await page.getByRole("link", { name: `Sign in with ${idpName}`, exact: true }).count()) {
      step(`chooser: ${idpName}`);
      result.steps.push("chooser");
      await clickAway(page, page.getByRole("link", { name: `Sign in with ${idpName}`, exact: true }));
    } else if (await page.getByRole("button", { name: "Connect", exact: true }).count()) {
      const text = await bodyText(page);
      result.consent_page = text.replace(/\s+/g, " ").trim();
      const name = consent === "cancel" ? "Cancel" : "Connect";
      step(`consent: ${name}`);
      result.steps.push(`consent-${consent}`);
      try {
        await clickAway(page, page.getByRole("button", { name, exact: true }));
      } catch (e) {
        // Recorded for the test: the redirect to the loopback callback did not load.
        result.navigation_error = e.message.split("\n")[0];
        step(`after ${name}: ${result.navigation_error}; at ${page.url()}`);
        await page.waitForTimeout(1000);
        if (!atCallback(page)) throw e;
      }
    } else if (here.pathname.startsWith("/interaction/") && await page.locator('button[type="submit"]').count()) {
      step(`idp consent at ${here.origin}`);
      result.steps.push("idp-consent");
      await clickAway(page, page.locator('button[type="submit"]'));
    } else {
      throw new Error(`stuck at ${here.origin}${here.pathname}; the page says: ${await bodyText(page)}`);
    }
  }
  if (!atCallback(page)) throw new Error(`never reached ${redirect}; at ${page.url()}`);
  await page.waitForLoadState("load");
  const cb = new URL(page.url());
  const text = (await bodyText(page)).replace(/\s+/g, " ").trim();
  step(`callback loaded: ${text}`);
  done({
    ok: true,
    callback_path: cb.pathname,
    // The test checks that none of these (the code above all) reaches the gateway's logs.
    callback_params: Object.fromEntries(cb.searchParams),
    error: cb.searchParams.get("error"),
    text,
  });
} catch (e) {
  step(`failed: ${e.message}`);
  done({ ok: false, failure: e.message, at: page ? page.url().split("?")[0] : null });
  process.exitCode = 1;
} finally {
  await browser.close();
}
