// Login CSRF on the command-line sign-in, with two browser contexts (two cookie jars):
// A opens /auth/cli/login?challenge=<challenge>, signs in at the IdP and stops at the confirm
// page; B (its own /portal visit gives it its own flow cookie and CSRF token) posts
// /auth/cli/complete for A's session, once with its own CSRF token and once with A's; then A
// clicks "Connect". Prints one JSON line {"b_own_csrf": {status, text}, "b_a_csrf": {…},
// "a_connect": text}. Usage: node cli_csrf.mjs <gateway url> <challenge> <idp name> <login>.
import { bodyText, chooseIdpIfListed, launch, signInAtIdp } from "./sso_steps.mjs";

const [gateway, challenge, idpName, login] = process.argv.slice(2);
const origin = new URL(gateway).origin;
const browser = await launch();
try {
  const a = await browser.newContext();
  const pageA = await a.newPage();
  await pageA.goto(`${gateway}/auth/cli/login?challenge=${challenge}`);
  await chooseIdpIfListed(pageA, idpName);
  await signInAtIdp(pageA, login, origin);
  const connect = pageA.getByRole("button", { name: "Connect" });
  await connect.waitFor({ timeout: 20000 }).catch(async () => {
    throw new Error(`no confirm page; A sees: ${await bodyText(pageA)}`);
  });
  const session = await pageA.locator('input[name="session"]').inputValue();
  const csrfA = await pageA.locator('input[name="csrf"]').inputValue();

  const b = await browser.newContext();
  const pageB = await b.newPage();
  await pageB.goto(`${gateway}/portal`);
  const csrfB = await pageB.locator('form[action="/portal/login"] input[name="csrf"]').inputValue();
  const post = async (csrf) => {
    const r = await b.request.post(`${gateway}/auth/cli/complete`, {
      form: { session, csrf }, maxRedirects: 0, failOnStatusCode: false,
    });
    return { status: r.status(), text: await r.text() };
  };
  const bOwn = await post(csrfB);
  const bA = await post(csrfA);

  await connect.click();
  await pageA.getByText("Command line connected").waitFor({ timeout: 20000 }).catch(() => {});
  console.log(JSON.stringify({ b_own_csrf: bOwn, b_a_csrf: bA, a_connect: await bodyText(pageA) }));
} finally {
  await browser.close();
}
