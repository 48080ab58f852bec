// Shared by the headless-browser scripts (demo.mjs, docs.mjs): Debian's chromium launched by playwright-core with
// the background traffic off, and a page that records console errors and the hosts of every request it makes.
import {chromium} from 'playwright-core';

// WebGL in software: no GPU here
export const SOFTWARE_WEBGL = ['--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

export function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--disable-default-apps', '--no-first-run', '--disable-dev-shm-usage', ...extraArgs],
  });
}

// Errors (console and uncaught) go to `errors`, the host of each http(s)/ws(s) request to `hosts`.
export function watch(page, errors, hosts) {
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => { if (/^(http|ws)s?:/.test(r.url())) hosts.push(new URL(r.url()).host); });
  page.setDefaultTimeout(60_000);
}
