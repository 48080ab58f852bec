// /docs (Swagger UI, served from the package) in a real browser (Debian's chromium, headless, playwright-core):
// the page loads with no request leaving the server, lists the operations of /openapi.json, takes a token through
// "Authorize" and runs "Try it out" on reverse geocoding with the document's own example values.
// Input: LDS_BASE, LDS_TOKEN, LDS_ARTIFACTS (screenshot dir). Output: one JSON line of what the page showed.
import {launch, watch} from './browser.mjs';

const base = process.env.LDS_BASE;
const artifacts = process.env.LDS_ARTIFACTS;
const browser = await launch();
const out = {console: [], hosts: []};
const page = await browser.newPage({viewport: {width: 1280, height: 1000}});
try {
  watch(page, out.console, out.hosts);

  await page.goto(`${base}/docs`);
  await page.waitForSelector('.opblock');
  out.title = await page.locator('.info .title').innerText();
  out.operations = await page.locator('.opblock').count();
  await page.screenshot({path: `${artifacts}/01-docs.png`});

  // a token pasted in "Authorize" (the bearer scheme)
  await page.click('button.authorize');
  const dialog = page.locator('.dialog-ux');
  await dialog.locator('input[type=text], input[type=password]').first().fill(process.env.LDS_TOKEN);
  await dialog.locator('button.authorize').first().click();
  await dialog.locator('button.btn-done').first().click();

  // reverse geocoding, tried with the document's examples (a point inside the extract)
  const op = page.locator('#operations-lds-reverse_get');
  await op.locator('.opblock-summary').click();
  await op.locator('button.try-out__btn').click();
  await op.locator('button.execute').click();
  const live = op.locator('.live-responses-table tbody');
  await live.locator('.response-col_status').first().waitFor();
  out.status = (await live.locator('.response-col_status').first().innerText()).trim();
  out.body = await live.locator('.response-col_description .highlight-code pre').first().innerText();
  out.curl = await op.locator('.curl-command').first().innerText();
  await page.screenshot({path: `${artifacts}/02-reverse.png`, fullPage: false});
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
