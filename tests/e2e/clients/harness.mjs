// A tiny test harness for the npm client scripts: named cases, each isolated (one failing case does
// not stop the others), "ok: ..." / "FAIL: ..." lines, a summary, and exit code 1 on any failure.
// Arguments: --base URL --model NAME --groups a,b,c [--api-key KEY] [--ctx N].
import { inspect } from 'node:util';

export function parse_args(argv) {
  const args = { base: '', model: '', groups: [], apiKey: 'unused', ctx: 256 };
  for (let i = 2; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`missing value for ${k}`);
    if (k === '--base') args.base = v.replace(/\/$/, '');
    else if (k === '--model') args.model = v;
    else if (k === '--groups') args.groups = v.split(',').filter((g) => g);
    else if (k === '--api-key') args.apiKey = v;
    else if (k === '--ctx') args.ctx = Number(v);
    else throw new Error(`unknown argument ${k}`);
  }
  if (!args.base || !args.model || args.groups.length === 0) {
    throw new Error('usage: --base URL --model NAME --groups g1,g2 [--api-key KEY] [--ctx N]');
  }
  return args;
}

let n_checks = 0;
const failures = [];

// One assertion: prints ok/FAIL with the message; `detail` is shown on failure.
export function check(cond, message, detail) {
  n_checks += 1;
  if (cond) {
    console.log(`ok: ${message}`);
    return true;
  }
  const extra = detail === undefined ? '' : ` -- ${inspect(detail, { depth: 6, breakLength: 160 })}`;
  console.log(`FAIL: ${message}${extra}`);
  failures.push(message);
  return false;
}

// Runs one named case; an exception is a failure of that case, not of the whole script.
export async function run_case(name, fn) {
  console.log(`--- ${name}`);
  try {
    await fn();
  } catch (e) {
    check(false, `${name}: threw ${e?.constructor?.name}: ${e?.message}`, e?.stack);
  }
}

// Expects `promise` to reject; returns the error (or null after recording a failure).
export async function expect_reject(promise, message) {
  try {
    const value = await promise;
    check(false, `${message}: expected an error, got a result`, value);
    return null;
  } catch (e) {
    return e;
  }
}

// A value the python driver picks up (e.g. JSON-schema outputs it validates with jsonschema).
export function report(kind, value) {
  console.log(`${kind} ${JSON.stringify(value)}`);
}

// GET /metrics (Prometheus text) → the sum of one metric's samples.
export async function metric(base, name, apiKey) {
  const res = await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${apiKey}` } });
  const text = await res.text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls until no request is running (the slot of an aborted stream is freed); returns seconds
// waited, or -1 after `timeout_s`.
export async function wait_idle(base, apiKey, timeout_s = 5) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeout_s * 1000) {
    if ((await metric(base, 'localmax_requests_running', apiKey)) === 0) return (Date.now() - t0) / 1000;
    await sleep(25);
  }
  return -1;
}

export async function run_groups(args, groups) {
  for (const g of args.groups) {
    if (!groups[g]) {
      check(false, `unknown group ${g} (known: ${Object.keys(groups).join(', ')})`);
      continue;
    }
    console.log(`=== group ${g}`);
    await groups[g](args);
  }
  console.log(`${n_checks} checks, ${failures.length} failed`);
  process.exitCode = failures.length ? 1 : 0;
}
