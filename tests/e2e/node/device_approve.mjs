// Approves a Claude Code device code at a conduit team gateway in headless Chromium, as a
// person would: open the verification URL the terminal shows, type the code, sign in (at the
// IdP, or first at the portal with a password), press Approve.
// Usage: node device_approve.mjs <verification url> <user code>
// Env: E2E_LOGIN (the IdP login), or E2E_PORTAL_USER + E2E_PORTAL_PASSWORD (portal sign-in
// first); E2E_IDP_NAME when the gateway lists several IdPs. Prints "APPROVED" on success;
// progress and failures (with the page's text) on stderr.
import { bodyText, launch, signInAtIdp } from "./sso_steps.mjs";

const [url, code] = process.argv.slice(2);
const origin = new URL(url).origin;
const TIMEOUT = 20000;
const step = (s) => console.error(`device_approve: ${s}`);

const browser = await launch();
let page;
try {
  page = await (await browser.newContext()).newPage();
  if (process.env.E2E_PORTAL_USER) {
    await page.goto(`${origin}/portal`);
    await page.fill('input[name="username"]', process.env.E2E_PORTAL_USER);
    await page.fill('input[name="password"]', process.env.E2E_PORTAL_PASSWORD ?? "");
    await Promise.all([page.waitForURL(`${origin}/portal`), page.click('form[action="/portal/login"] button')]);
    step("signed in at the portal");
  }
  await page.goto(url);
  step(`opened ${new URL(url).pathname}`);
  const input = page.locator('input[name="user_code"]');
  if ((await input.inputValue()) === "") await input.fill(code);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForLoadState("domcontentloaded");
  const idpName = process.env.E2E_IDP_NAME;
  if (idpName && (await page.getByRole("button", { name: `Sign in with ${idpName}` }).count())) {
    await page.getByRole("button", { name: `Sign in with ${idpName}` }).click();
    await page.waitForLoadState("domcontentloaded");
  }
  if (!page.url().startsWith(origin)) {
    step("at the IdP");
    await signInAtIdp(page, process.env.E2E_LOGIN, origin);
    step("back at the gateway");
  }
  const approve = page.getByRole("button", { name: "Approve" });
  await approve.waitFor({ timeout: TIMEOUT }).catch(async () => {
    throw new Error(`no Approve button; the page says: ${await bodyText(page)}`);
  });
  await approve.click();
  await page.getByText("Device approved").waitFor({ timeout: TIMEOUT }).catch(async () => {
    throw new Error(`not approved; the page says: ${await bodyText(page)}`);
  });
  console.log("APPROVED");
} catch (e) {
  step(`failed: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
