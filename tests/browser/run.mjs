// Steward in a real browser: each role signs in and does its main task through the pages, the main pages
// pass axe-core with no serious or critical violation, fit a 360 px wide phone, and break no
// Content-Security-Policy rule. Run by tests/integration/browser.rs against a served demo foundation.
//
// Environment: BASE_URL (the app), CHROMIUM (default /usr/bin/chromium), FAILURE_DIR (screenshots of what
// failed), SCREENSHOT_DIR (when set, screenshots of the main pages for the README).

import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.BASE_URL;
const FAILURE_DIR = process.env.FAILURE_DIR || 'browser-failures';
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';
const PASSWORD = 'steward-demo-passphrase';
const axeSource = fs.readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');

if (!BASE) {
  console.error('BASE_URL is not set');
  process.exit(2);
}

const failures = [];
const checked = { pages: 0, axeRules: 0, tasks: 0 };

function fail(what, message) {
  failures.push(`${what}: ${message}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});

async function newPage(width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, locale: 'en-US' });
  const page = await context.newPage();
  page.cspViolations = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) page.cspViolations.push(msg.text());
  });
  return page;
}

async function signIn(page, email) {
  await page.goto(`${BASE}/sign-in`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
  if (page.url().includes('/sign-in')) throw new Error(`could not sign in as ${email}`);
}

async function shoot(page, name) {
  if (!SCREENSHOT_DIR) return;
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: false });
}

async function onFailure(page, name, error) {
  fail(name, error.message.split('\n')[0]);
  fs.mkdirSync(FAILURE_DIR, { recursive: true });
  await page.screenshot({ path: path.join(FAILURE_DIR, `${name}.png`), fullPage: true }).catch(() => {});
}

async function flash(page) {
  const f = page.locator('.flash');
  return (await f.count()) ? (await f.first().innerText()).trim() : '';
}

/// Axe-core on the current page: serious and critical violations fail.
async function axe(page, what) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return {
      rules: r.violations.length + r.passes.length + r.incomplete.length,
      violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })),
    };
  });
  checked.axeRules += result.rules;
  for (const v of result.violations) {
    if (v.impact === 'serious' || v.impact === 'critical') fail(`${what} (axe)`, `${v.impact} ${v.id}: ${v.help} at ${v.nodes.join(', ')}`);
  }
}

/// A main page: loads, passes axe, has one h1 and a main landmark, and fits a 360 px phone.
async function checkPage(page, phone, pathname, what) {
  const res = await page.goto(`${BASE}${pathname}`);
  if (!res || res.status() !== 200) return fail(what, `GET ${pathname} answered ${res && res.status()}`);
  checked.pages += 1;
  if ((await page.locator('main').count()) !== 1) fail(what, 'no single <main> landmark');
  if ((await page.locator('h1').count()) !== 1) fail(what, 'not exactly one <h1>');
  await axe(page, what);
  await phone.goto(`${BASE}${pathname}`);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 1) {
    const wide = await phone.evaluate(() =>
      [...document.querySelectorAll('main *')]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap'))
        .slice(0, 3)
        .map((e) => `${e.tagName.toLowerCase()}.${e.className}`),
    );
    fail(`${what} (360 px)`, `the page is ${overflow} px wider than the phone: ${wide.join(', ')}`);
  }
}

async function role(name, email, pages, task) {
  const page = await newPage();
  const phone = await newPage(360);
  try {
    if (email) {
      await signIn(page, email);
      await signIn(phone, email);
    }
    for (const [pathname, shot] of pages) {
      await checkPage(page, phone, pathname, `${name} ${pathname}`);
      if (shot) await shoot(page, shot);
    }
    if (task) {
      await task(page);
      checked.tasks += 1;
    }
  } catch (error) {
    await onFailure(page, name, error);
  }
  for (const p of [page, phone]) {
    for (const v of p.cspViolations) fail(`${name} (CSP)`, v);
  }
  await page.context().close();
  await phone.context().close();
}

async function firstLink(page, listPath, hrefPattern) {
  await page.goto(`${BASE}${listPath}`);
  const hrefs = await page.locator('main a').evaluateAll((links) => links.map((a) => a.getAttribute('href')));
  const href = hrefs.find((h) => h && hrefPattern.test(h));
  if (!href) throw new Error(`no link like ${hrefPattern} on ${listPath}`);
  return href;
}

// ---------------------------------------------------------------------------------------------- the public

await role('public', null, [
  ['/', 'home-public'],
  ['/sign-in', null],
  ['/priorities', null],
  ['/initiatives', null],
  ['/transparency', 'transparency'],
]);

// ---------------------------------------------------------------------------------------------- treasurer

await role(
  'treasurer',
  'treasurer@demo.steward.invalid',
  [
    ['/', 'home-treasurer'],
    ['/treasury', 'treasury'],
    ['/budgets', 'budgets'],
    ['/ledger', 'ledger'],
    ['/members', 'members'],
    ['/invoices', null],
    ['/disbursements', null],
  ],
  async (page) => {
    // Allocate money to an active initiative from this year's budget.
    const initiative = await firstLink(page, '/initiatives?status=active', /^\/initiatives\/\d+$/);
    await page.goto(`${BASE}${initiative}`);
    const year = await page.locator('#fiscal_year_id option').evaluateAll((os) => os.find((o) => o.textContent.includes('(open)'))?.value);
    if (!year) throw new Error('no open fiscal year to allocate from');
    await page.locator('#fiscal_year_id').selectOption(year);
    await page.getByLabel('Amount', { exact: true }).fill('1000');
    await page.locator('#confirm-allocate').check();
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Allocate' }).click()]);
    const allocated = await flash(page);
    if (!/allocated/i.test(allocated)) throw new Error(`allocating said: "${allocated}"`);
    // Approve a disbursement someone else requested.
    const request = await firstLink(page, '/disbursements?status=requested', /^\/disbursements\/\d+$/);
    await page.goto(`${BASE}${request}`);
    await page.locator('#confirm-approve').check();
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Approve' }).click()]);
    const approved = await flash(page);
    if (!/approv/i.test(approved)) throw new Error(`approving said: "${approved}"`);
  },
);

// ---------------------------------------------------------------------------------------------- representative

await role(
  'representative',
  'rep@demo.steward.invalid',
  [
    ['/', 'home-representative'],
    ['/my-organization', null],
    ['/invoices', null],
    ['/my-surveys', null],
    ['/reports', null],
    ['/feedback', null],
  ],
  async (page) => {
    // Answer the open survey through the pages.
    await page.goto(`${BASE}/my-surveys`);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: /Answer now|Change my answers/ }).first().click()]);
    await page.evaluate(() => {
      for (const fs of document.querySelectorAll('form fieldset')) {
        const radios = [...fs.querySelectorAll('input[type=radio]')];
        if (radios.length) radios[radios.length - 1].checked = true;
        const boxes = [...fs.querySelectorAll('input[type=checkbox]')];
        if (boxes.length) boxes[0].checked = true;
        const numbers = [...fs.querySelectorAll('input[type=number]')];
        numbers.forEach((n, i) => {
          n.value = n.max === '100' ? (i === 0 ? '100' : '0') : String(i + 1);
        });
        const text = fs.querySelector('textarea, input:not([type])');
        if (text) text.value = text.tagName === 'TEXTAREA' ? 'Keep the release calendar.' : '12';
      }
    });
    await shoot(page, 'survey-answer');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send my answers' }).click()]);
    const errors = await page.locator('.field-error').allInnerTexts();
    if (errors.length) throw new Error(`the survey form said: ${errors.join('; ')}`);
    const body = await page.locator('main').innerText();
    if (!/thank|answers are in/i.test(body)) throw new Error('no confirmation after sending the answers');
    // The latest report is on the home page and opens.
    await page.goto(`${BASE}/`);
    const report = await firstLink(page, '/', /^\/reports\/\d{4}-/);
    await page.goto(`${BASE}${report}`);
    await shoot(page, 'report');
  },
);

// ---------------------------------------------------------------------------------------------- council

const councilPages = [
  ['/', 'home-council'],
  ['/surveys', null],
  ['/metrics', 'metrics'],
  ['/reports', null],
  ['/feedback/triage', null],
  ['/community', null],
  ['/community/repositories', null],
  ['/community/repositories/1', null],
  ['/community/values?series=non_maintainer_pr_share&scope=overall&period=2026-Q3', null],
  ['/community/import', null],
  ['/community/metrics', null],
  ['/community/runs', null],
];
await role('council', 'council@demo.steward.invalid', councilPages, async (page) => {
  // Read the results of the closed survey.
  const results = await firstLink(page, '/surveys', /^\/surveys\/\d+\/results$/);
  await checkPage(page, await newPage(360), results, 'council survey results');
  const text = await page.locator('main').innerText();
  if (!/response rate/i.test(text)) throw new Error('the results page shows no response rate');
  await shoot(page, 'survey-results');
  const metric = await firstLink(page, '/metrics', /^\/metrics\/\d+$/);
  await checkPage(page, await newPage(360), metric, 'council metric');
  await shoot(page, 'metric');
});

// ---------------------------------------------------------------------------------------------- admin

await role(
  'admin',
  'admin@demo.steward.invalid',
  [
    ['/', 'home-admin'],
    ['/admin/users', null],
    ['/admin/audit', null],
    ['/admin/mail', null],
    ['/admin/settings', null],
    ['/admin/transparency', null],
  ],
  async (page) => {
    await page.goto(`${BASE}/admin/users/invite`);
    await page.getByLabel('Email address').fill('new.treasurer@example.org');
    await page.getByLabel('Name').fill('New Treasurer');
    await page.getByLabel('Treasurer').check();
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send invitation' }).click()]);
    const invited = await flash(page);
    if (!/invit/i.test(invited)) throw new Error(`inviting said: "${invited}"`);
  },
);

await browser.close();
console.log(`checked ${checked.pages} pages (${checked.axeRules} axe rule results), ${checked.tasks} role tasks`);
if (failures.length) {
  console.log(`${failures.length} problem(s):\n${failures.join('\n')}`);
  process.exit(1);
}
