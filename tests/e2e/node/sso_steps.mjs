// Shared steps for the browser scripts (portal_sso.mjs, cli_browser.mjs, cli_csrf.mjs,
// device_approve.mjs, login_page.mjs): Debian's Chromium through playwright-core (CHROMIUM
// overrides its path), and the sign-in at an oidc-provider IdP's devInteractions pages
// (tests/e2e/node/idp.mjs: any login, any password, then consent).
import { chromium } from "playwright-core";

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

export const TIMEOUT = 20000;

/// Click `selector` and wait until the page has left `page.url()` and loaded.
async function clickAway(page, locator) {
  const before = page.url();
  await Promise.all([
    page.waitForURL((u) => u.toString() !== before, { timeout: TIMEOUT }),
    locator.click(),
  ]);
  await page.waitForLoadState("domcontentloaded");
}

/// On a gateway page listing identity providers, follow the link "Sign in with <name>".
export async function chooseIdp(page, name) {
  await clickAway(page, page.getByRole("link", { name: `Sign in with ${name}`, exact: true }));
}

/// On a gateway page that may list identity providers: choose `name` when it is listed.
export async function chooseIdpIfListed(page, name) {
  if (await page.getByRole("link", { name: `Sign in with ${name}`, exact: true }).count()) {
    await chooseIdp(page, name);
  }
}

/// At the IdP: the login form (login, any password), then the consent form, until the browser
/// is back on `origin` (the gateway's). Throws with the page's text when it gets stuck.
export async function signInAtIdp(page, login, origin) {
  try {
    await page.locator('input[name="login"]').waitFor({ timeout: TIMEOUT });
    await page.fill('input[name="login"]', login);
    await page.fill('input[name="password"]', "any password");
    await clickAway(page, page.locator('button[type="submit"]'));
    for (let i = 0; i < 3 && !page.url().startsWith(origin); i++) {
      await clickAway(page, page.locator('button[type="submit"]'));
    }
    if (!page.url().startsWith(origin)) throw new Error(`still at ${page.url()}`);
  } catch (e) {
    throw new Error(`sign-in at the IdP failed (${e.message}); the page says: ${await bodyText(page)}`);
  }
}

export async function bodyText(page) {
  try {
    return (await page.textContent("body")) ?? "";
  } catch {
    return "";
  }
}

/// The cookies the browser holds for `url`, without their values.
export async function cookieFlags(context, url) {
  return (await context.cookies(url)).map(({ name, httpOnly, sameSite, secure, path, expires }) => ({
    name, httpOnly, sameSite, secure, path, expires,
  }));
}
