// The demo page at / in a real browser (Debian's chromium, headless, driven by playwright-core): a token typed in,
// the extract's roads drawn as the basemap, a geocode, a reverse, a route and isolines (polygons and H3 cells)
// made through the UI. Input: LDS_BASE, LDS_TOKEN, LDS_ARTIFACTS (screenshot dir), LDS_CASE (JSON: search text,
// route points, isoline origin). Output: one JSON line of what the page drew and listed, which the pytest
// wrapper (tests/demo/test_demo_browser.py) compares with the API's own answers.
import {SOFTWARE_WEBGL, launch, watch} from './browser.mjs';

const base = process.env.LDS_BASE;
const token = process.env.LDS_TOKEN;
const artifacts = process.env.LDS_ARTIFACTS;
const c = JSON.parse(process.env.LDS_CASE);

const browser = await launch(SOFTWARE_WEBGL);
const out = {console: [], requests: []};
const page = await browser.newPage({viewport: {width: 1280, height: 800}});
try {
  watch(page, out.console, out.requests);

  await page.goto(`${base}/`);
  await page.waitForFunction(() => window.ldsDemo && window.ldsDemo.state.ready);
  out.attribution = await page.locator('.maplibregl-ctrl-attrib').innerText();

  // the token, then the basemap of the extract's own roads (Maps API -> TileJSON -> vector tiles)
  await page.fill('#token', token);
  await page.dispatchEvent('#token', 'change');
  await page.waitForFunction(() => window.ldsDemo.state.basemap === 'roads');
  const idle = () => page.evaluate(() => new Promise((resolve) => {
    const {map} = window.ldsDemo;
    if (map.loaded() && map.areTilesLoaded()) resolve(); else map.once('idle', resolve);
  }));
  await idle();
  out.roadsRendered = await page.evaluate(() => window.ldsDemo.map.queryRenderedFeatures({layers: ['roads']}).length);
  await page.screenshot({path: `${artifacts}/01-basemap.png`});

  // geocode: candidates listed with their match type, drawn as points
  await page.fill('#search', c.search);
  await page.click('#search-form button');
  await page.waitForSelector('#candidates li');
  out.candidates = await page.$$eval('#candidates li', (lis) => lis.map((li) => ({
    text: li.firstChild.textContent, matchType: li.dataset.matchType, badge: li.querySelector('.match').textContent})));
  out.points = await page.evaluate(() => window.ldsDemo.map.getSource('points').serialize().data.features.length);
  await idle();
  await page.screenshot({path: `${artifacts}/02-geocode.png`});

  const home = () => page.evaluate(() => new Promise((resolve) => {
    const {map, cfg} = window.ldsDemo;
    map.once('moveend', () => map.once('idle', resolve));
    map.fitBounds(cfg.bbox, {animate: false, padding: 20});
  }));
  const clickAt = async ([lon, lat]) => {
    const box = await page.locator('#map').boundingBox();
    const p = await page.evaluate(([x, y]) => window.ldsDemo.map.project([x, y]), [lon, lat]);
    await page.mouse.click(box.x + p.x, box.y + p.y);
  };

  // reverse: one click
  await home();
  await clickAt(c.reverse);
  await page.waitForSelector('#reverse-address');
  out.reverse = await page.locator('#reverse-address').innerText();

  // route: two clicks, the line drawn and the steps listed
  await page.check('input[name=tool][value=route]');
  await page.selectOption('#mode', 'car');
  await clickAt(c.origin);
  await clickAt(c.destination);
  await page.waitForSelector('#steps li');
  out.steps = await page.$$eval('#steps li', (lis) => lis.map((li) => li.textContent));
  out.routeSummary = await page.locator('#route-summary').innerText();
  await idle();
  out.route = await page.evaluate(() => {
    const {map} = window.ldsDemo;
    const data = map.getSource('route').serialize().data;
    return {type: data.geometry.type, points: data.geometry.coordinates.length,
            rendered: map.queryRenderedFeatures({layers: ['route-line']}).length};
  });
  await page.screenshot({path: `${artifacts}/03-route.png`});

  // isolines: mode, time ranges, one click; nested polygons drawn, then H3 cells from the same click
  const drawn = () => page.evaluate(() => {
    const {map} = window.ldsDemo;
    const features = map.getSource('isolines').serialize().data.features;
    return {features: features.length, ranges: [...new Set(features.map((f) => f.properties.range))],
            kinds: [...new Set(features.map((f) => f.properties.kind))],
            rendered: map.queryRenderedFeatures({layers: ['isolines-fill']}).length};
  });
  await page.check('input[name=tool][value=isoline]');
  await page.selectOption('#mode', c.mode);
  await page.selectOption('#range-type', 'time');
  await page.fill('#ranges', c.ranges);
  await clickAt(c.isoline);
  await page.waitForSelector('#isoline-legend li');
  await idle();
  out.polygons = await drawn();
  out.legend = await page.$$eval('#isoline-legend li', (lis) => lis.map((li) => li.textContent));
  await page.screenshot({path: `${artifacts}/04-isolines.png`});

  await page.selectOption('#iso-kind', 'h3');
  await page.fill('#resolution', String(c.resolution));
  await page.evaluate(() => document.getElementById('isoline-legend').replaceChildren());
  await clickAt(c.isoline);
  await page.waitForSelector('#isoline-legend li');
  await idle();
  out.h3 = await drawn();
  out.h3Legend = await page.$$eval('#isoline-legend li', (lis) => lis.map((li) => li.textContent));
  await page.screenshot({path: `${artifacts}/05-isolines-h3.png`});

  out.errors = await page.evaluate(() => window.ldsDemo.state.errors);
  out.requests = [...new Set(out.requests)];
} catch (err) {  // what the page said, and how it looked, when a step failed
  const said = await page.locator('#status').innerText().catch(() => '');
  await page.screenshot({path: `${artifacts}/failure.png`}).catch(() => {});
  throw new Error(`${err.message}\npage status: ${said}\nconsole: ${out.console.join('\n')}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
