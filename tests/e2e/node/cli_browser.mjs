// The "browser" the served token script opens (BROWSER=<a wrapper running this>): headless
// Chromium at <url> (/auth/cli/login?challenge=…), the IdP chooser if there is one, the sign-in
// at the IdP, then "Connect" on the gateway's confirm page. Env: E2E_IDP_NAME, E2E_LOGIN.
// Logs its steps on stderr; exit 0 once the page says "Command line connected".
// Usage: node cli_browser.mjs <url>.
import { chooseIdpIfListed, launch, signInAtIdp } from "./sso_steps.mjs";

const url = process.argv[2];
const origin = new URL(url).origin;
const idpName = process.env.E2E_IDP_NAME;
const login = process.env.E2E_LOGIN;
const browser = await launch();
try {
  const page = await (await browser.newContext()).newPage();
  await page.goto(url);
  console.error(`cli_browser: opened ${new URL(url).pathname}`);
  await chooseIdpIfListed(page, idpName);
  if (!page.url().startsWith(origin)) await signInAtIdp(page, login, origin);
  console.error("cli_browser: back at the gateway");
  await page.getByRole("button", { name: "Connect" }).click({ timeout: 20000 });
  await page.getByText("Command line connected").waitFor({ timeout: 20000 });
  console.error("cli_browser: connected");
} catch (e) {
  console.error(`cli_browser: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
