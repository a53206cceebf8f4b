// Labelled corpus for the sensitivity detectors (tests/e2e/test_detect_corpus.py): positives of
// every structured kind embedded in realistic sentences (several faker locales), and hard
// negatives (source code, hashes, UUIDs, base64, prose with numbers, dates, versions, order
// numbers, math, URLs, product codes). Seeded: the same arguments give the same corpus.
//
//   node tests/e2e/detect_corpus.mjs [seed] [items_per_kind] > corpus.jsonl
// Each line: {"parts": [["text"], ["kind", "value"], ...], "group": "email" | "negative:<what>"}.
import { fakerEN_US, fakerEN_GB, fakerDE, fakerFR, fakerES, fakerIT, fakerNL, fakerPT_BR, fakerJA, fakerEN_IN }
  from '@faker-js/faker';

const seed = Number(process.argv[2] ?? 42);
const perKind = Number(process.argv[3] ?? 250);
const locales = [fakerEN_US, fakerEN_GB, fakerDE, fakerFR, fakerES, fakerIT, fakerNL, fakerPT_BR, fakerJA, fakerEN_IN];
locales.forEach((f, i) => f.seed(seed * 100 + i));
const phoneLocales = locales.filter((f) => f !== fakerIT);  // faker's it formats include 8-digit numbers
const base = fakerEN_US;
const pick = (arr) => arr[base.number.int({ min: 0, max: arr.length - 1 })];
const loc = () => pick(locales);
const int = (min, max) => base.number.int({ min, max });
const alnum = (n) => base.string.alphanumeric({ length: n, casing: 'mixed' });
const b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const b64 = (n) => Array.from({ length: n }, () => b64chars[int(0, 63)]).join('');
const name = () => loc().person.fullName();

// A sentence around one value: [before, after] pairs, some with a cue word, some without.
const frames = {
  email: [['Please send the invoice to ', ' by Friday.'], ['', ' wrote:'], ['cc: ', ''],
    ['Contact ', ' for access.'], ['Her address is ', ', she says.'], ['<', '>']],
  phone: [['Call me at ', ' after 6pm.'], ['Tel.: ', ''], ['', ' (mobile)'], ['Reach the office on ', '.'],
    ['Phone: ', ', ask for the manager.'], ['WhatsApp ', ' if urgent'], ['Fax ', ''],
    ['You can ring ', ' any time.'], ['Kontakt: ', ''], ['Mon numéro: ', '']],
  card: [['My card number is ', ', exp 09/27.'], ['Charge ', ' for the order.'], ['card: ', ''],
    ['Paid with ', ' yesterday.'], ['', ' CVV 123']],
  iban: [['Please transfer to IBAN ', ' today.'], ['IBAN: ', ''], ['Account ', ' (Bank)'],
    ['', ' is my account.'], ['Wire it to ', '.']],
  ssn: [['SSN: ', ''], ['My social security number is ', '.'], ['', ' (SSN)'], ['ssn ', ' dob 1980'],
    ['Employee ', ' onboarding']],
  nino: [['NI number: ', ''], ['My national insurance number is ', '.'], ['', ' is on the payslip'],
    ['NINO ', ', thanks']],
  ip: [['The server at ', ' is down.'], ['ssh admin@', ''], ['Client IP ', ' was blocked.'],
    ['host=', ' port=22'], ['ping ', ' from the VPN']],
  private_key: [['Here is the key:\n', '\nPlease keep it safe.'], ['', ''], ['key.pem:\n', '\n']],
  secret: [['OPENAI_API_KEY=', ''], ['Use this token: ', ' for the API.'], ['export TOKEN=', ''],
    ['The key is ', ', do not share.'], ['"apiKey": "', '",'], ['', ' (rotated last week)']],
};

const gen = {
  email: () => pick([() => loc().internet.email(), () => loc().internet.exampleEmail(),
    () => `${base.person.firstName().toLowerCase()}.${base.person.lastName().toLowerCase()}@${base.internet.domainName()}`])(),
  phone: () => pick(phoneLocales).phone.number({ style: pick(['human', 'national', 'international']) })
    .replace(/ x\d+$/, ''),
  card: () => {
    let c = base.finance.creditCardNumber(pick(['visa', 'mastercard', 'amex', 'discover', 'jcb', 'diners_club']));
    const f = int(0, 2);
    if (f === 1) c = c.replace(/-/g, ' ');
    if (f === 2) c = c.replace(/-/g, '');
    return c;
  },
  iban: () => {
    const i = base.finance.iban();
    return int(0, 1) ? i : i.replace(/(.{4})/g, '$1 ').trim();
  },
  ssn: () => {
    let area;
    do area = int(1, 899); while (area === 666);
    const p = [String(area).padStart(3, '0'), String(int(1, 99)).padStart(2, '0'), String(int(1, 9999)).padStart(4, '0')];
    return p.join(pick(['-', '-', ' ']));
  },
  nino: () => {
    const first = 'ABCEGHJKLMNOPRSTWXYZ', second = 'ABCEGHJKLMNPRSTWXYZ';
    let pre;
    do pre = pick([...first]) + pick([...second]); while (['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ'].includes(pre));
    const d = base.string.numeric(6);
    const suf = pick(['A', 'B', 'C', 'D']);
    return int(0, 1) ? `${pre}${d}${suf}` : `${pre} ${d.slice(0, 2)} ${d.slice(2, 4)} ${d.slice(4)} ${suf}`;
  },
  ip: () => {
    const k = int(0, 2);
    if (k === 0) return base.internet.ipv4();
    const g = base.internet.ipv6().split(':').map((x) => x.replace(/^0+(?=.)/, ''));
    if (k === 1) return g.join(':');
    const a = int(1, 3), b = int(1, 3);
    return `${g.slice(0, a).join(':')}::${g.slice(8 - b).join(':')}`;
  },
  private_key: () => {
    const label = pick(['RSA PRIVATE KEY', 'EC PRIVATE KEY', 'PRIVATE KEY', 'OPENSSH PRIVATE KEY', 'ENCRYPTED PRIVATE KEY']);
    const lines = Array.from({ length: int(3, 12) }, () => b64(64));
    lines.push(b64(int(4, 60)) + '==');
    return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----`;
  },
  secret: () => pick([
    () => `sk-proj-${alnum(48)}${pick(['_', '-'])}${alnum(40)}`,
    () => `sk-${alnum(48)}`,
    () => `sk-ant-api03-${alnum(93)}AA`,
    () => `AKIA${base.string.alphanumeric({ length: 16, casing: 'upper' })}`,
    () => `ghp_${alnum(36)}`,
    () => `github_pat_${alnum(22)}_${alnum(59)}`,
    () => `xoxb-${base.string.numeric(12)}-${base.string.numeric(13)}-${alnum(24)}`,
    () => `sk_live_${alnum(24)}`,
    () => `rk_live_${alnum(24)}`,
    () => `AIza${alnum(35)}`,
    () => `glpat-${alnum(20)}`,
    () => base.internet.jwt(),
  ])(),
};

const out = [];
const emit = (group, parts) => out.push(JSON.stringify({ group, parts }));

for (const kind of Object.keys(gen)) {
  for (let i = 0; i < perKind; ++i) {
    const [pre, post] = pick(frames[kind]);
    emit(kind, [[pre], [kind, gen[kind]()], [post]]);
  }
}
// AWS key pairs: both halves labelled as secrets.
for (let i = 0; i < perKind / 5; ++i) {
  const id = `AKIA${base.string.alphanumeric({ length: 16, casing: 'upper' })}`;
  emit('secret', [['aws_access_key_id = '], ['secret', id], ['\naws_secret_access_key = '], ['secret', b64(40)], ['\n']]);
}
// `password=`-style assignments (reported, not part of the structured recall target).
for (let i = 0; i < perKind / 2; ++i) {
  const [k, sep] = pick([['password', '='], ['DB_PASSWORD', '='], ['api_key', ': '], ['"client_secret"', ': ']]);
  const q = pick(['', '"', "'"]);
  emit('assignment', [[`${k}${sep}${q}`], ['secret', base.internet.password({ length: int(10, 20) })], [`${q}`]]);
}
// Several kinds in one message.
for (let i = 0; i < perKind / 2; ++i) {
  emit('mixed', [['Hi, I am ' + name() + ', mail '], ['email', gen.email()], [' or call '],
    ['phone', gen.phone()], ['. Pay to '], ['iban', gen.iban()], [' from '], ['ip', gen.ip()], ['.']]);
}

// Hard negatives.
const N = perKind * 8;
const neg = {
  code: () => pick([
    () => `for (int i = 0; i < ${int(2, 100000)}; ++i) sum += a[i] * ${base.number.float({ max: 100, fractionDigits: 3 })};`,
    () => `def ${base.hacker.verb()}_${base.hacker.noun()}(x):\n    return x ** 2 + ${int(0, 999999)}`,
    () => `const url = "https://api.${base.internet.domainName()}/v1/items?page=${int(1, 500)}&limit=${int(10, 100)}";`,
    () => `std::vector<int> v(${int(1, 4096)}); std::sort(v.begin(), v.end());`,
    () => `password = get_password(user)\ntoken = tokens[${int(0, 9)}]`,
    () => `if (status == ${pick([200, 404, 500])}) { return ${int(0, 1000000)}; }`,
    () => `SELECT id, name FROM users WHERE created_at > '${base.date.past().toISOString().slice(0, 10)}' LIMIT ${int(10, 1000)};`,
    () => `const passwordHint = "${base.word.noun()}"; const apiKey = process.env.API_KEY;`,
    () => `x = np.zeros((${int(2, 512)}, ${int(2, 512)}), dtype=np.float32)  # seed ${int(0, 99999)}`,
    () => `#define BUFFER_SIZE ${int(64, 1 << 20)}\nuint32_t crc = 0x${base.string.hexadecimal({ length: 8, prefix: '' })};`,
  ])(),
  hash: () => pick([
    () => `commit ${base.git.commitSha()}`,
    () => `md5 ${base.string.hexadecimal({ length: 32, casing: 'lower', prefix: '' })}`,
    () => `sha256: ${base.string.hexadecimal({ length: 64, casing: 'lower', prefix: '' })}`,
    () => `sha1=${base.string.hexadecimal({ length: 40, casing: 'lower', prefix: '' })}`,
  ])(),
  uuid: () => `request id ${base.string.uuid()} failed`,
  base64: () => `data:image/png;base64,${b64(int(40, 200))}=`,
  prose: () => pick([
    () => `The population of ${base.location.city()} grew by ${int(1, 40)}% to ${int(10000, 9000000).toLocaleString('en-US')} in ${int(1950, 2024)}.`,
    () => `We shipped ${int(1000, 999999)} units and revenue was $${base.number.float({ max: 1000, fractionDigits: 1 })} million.`,
    () => `In ${int(1900, 2024)}, ${int(2, 99)} of the ${int(100, 999)} members voted; turnout was ${int(10, 99)}.${int(0, 9)}%.`,
    () => `${base.company.name()} employs ${int(100, 99999)} people across ${int(2, 60)} countries.`,
    () => `The flight covers ${int(100, 15000)} km at ${int(8000, 12500)} m altitude, ${int(150, 850)} passengers.`,
    () => `Le projet coûte ${int(1, 999)} ${String(int(100, 999))} ${String(int(100, 999))} euros.`,
  ])(),
  date: () => {
    const d = base.date.past({ years: 30 });
    return pick([
      () => `Meeting on ${d.toISOString().slice(0, 10)} at ${d.toISOString().slice(11, 16)}.`,
      () => `Datum: ${d.toLocaleDateString('de-DE', { day: '2-digit', month: '2-digit', year: 'numeric' })}`,
      () => `due ${d.toLocaleDateString('en-US')} ${d.toLocaleTimeString('en-US')}`,
      () => `timestamp ${d.toISOString()}`,
      () => `le ${d.toLocaleDateString('fr-FR')} à ${d.toLocaleTimeString('fr-FR')}`,
      () => `${d.toISOString().slice(0, 19).replace('T', ' ')} INFO started in ${int(1, 999)} ms`,
    ])();
  },
  version: () => pick([
    () => `upgrade to v${base.system.semver()}`,
    () => `Python ${int(2, 3)}.${int(0, 13)}.${int(0, 20)} and numpy ${base.system.semver()}`,
    () => `Chrome/${int(90, 130)}.0.${int(4000, 7000)}.${int(10, 300)} Safari/537.36`,
    () => `Windows 10.0.${int(10000, 22631)}.${int(100, 4000)}`,
    () => `libfoo.so.${int(1, 9)}.${int(0, 40)}.${int(0, 9)}`,
  ])(),
  order: () => pick([
    () => `Order #${base.string.numeric(8)} has shipped.`,
    () => `Your order ORD-${int(2019, 2025)}-${base.string.numeric(6)} is ready.`,
    () => `Invoice INV-${base.string.numeric(7)} (ref ${base.string.alphanumeric({ length: 10, casing: 'upper' })})`,
    () => `Tracking: 1Z${base.string.alphanumeric({ length: 16, casing: 'upper' })}`,
    () => `ticket ${pick(['JIRA', 'OPS', 'SUP'])}-${int(1, 99999)} and case ${base.string.numeric(6)}`,
    () => `customer no. ${base.string.numeric(7)}, order ${int(2019, 2025)}-${base.string.numeric(5)}`,
  ])(),
  math: () => pick([
    () => `${int(10, 999)} × ${int(10, 999)} = ${int(100, 999999)}`,
    () => `pi ≈ 3.14159265358979 and e ≈ 2.718281828`,
    () => `x^2 + ${int(2, 99)}x + ${int(1, 999)} = 0 has roots ${base.number.float({ max: 50, fractionDigits: 4 })} and -${base.number.float({ max: 50, fractionDigits: 4 })}`,
    () => `[[${int(0, 99)}, ${int(0, 99)}, ${int(0, 99)}], [${int(0, 99)}, ${int(0, 99)}, ${int(0, 99)}]]`,
    () => `${int(100000, 999999)} / ${int(100, 999)} = ${base.number.float({ max: 9999, fractionDigits: 6 })}`,
  ])(),
  url: () => pick([
    () => base.internet.url() + `/items/${base.string.numeric(10)}?ref=${base.string.alphanumeric(8)}`,
    () => `https://${base.internet.domainName()}/watch?v=${base.string.alphanumeric(11)}&t=${int(1, 3000)}s`,
    () => `see https://github.com/${base.internet.username()}/${base.hacker.noun()}/issues/${int(1, 20000)}`,
  ])(),
  product: () => pick([
    () => `SKU ${base.string.numeric(3)}-${base.string.numeric(4)}`,
    () => `Part #${base.string.numeric(2)}-${base.string.numeric(4)}-${base.string.numeric(2)}`,
    () => `model ${base.string.alpha({ length: 2, casing: 'upper' })}-${base.string.numeric(4)}-${base.string.numeric(3)}`,
    () => `EAN ${base.string.numeric(13)}`,
    () => `Art.-Nr. ${base.string.numeric(3)}.${base.string.numeric(3)}.${base.string.numeric(2)}`,
    () => `item ${base.string.alphanumeric({ length: 3, casing: 'upper' })}-${base.string.numeric(5)}-${base.string.numeric(2)} in stock`,
  ])(),
  lorem: () => loc().lorem.paragraph(),
};
const negKinds = Object.keys(neg);
for (let i = 0; i < N; ++i) {
  const k = negKinds[i % negKinds.length];
  emit(`negative:${k}`, [[neg[k]()]]);
}
process.stdout.write(out.join('\n') + '\n');
