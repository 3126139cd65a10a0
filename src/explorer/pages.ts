import {
  addressLink,
  blockLink,
  contractLink,
  duration,
  facts,
  fractionBar,
  type Html,
  hashrate,
  html,
  li,
  lineChart,
  link,
  num,
  rangesBar,
  raw,
  short,
  signedLi,
  table,
  time,
  txLink,
} from './html.ts';

/**
 * One renderer per page, from the data ExplorerData builds (the JSON API's
 * answer for the same URL). A section marked data-live is replaced in place
 * when a new block arrives (assets/explorer.js).
 */

// The data is JSON-shaped with bigints in it; pages read it loosely.
// biome-ignore lint/suspicious/noExplicitAny: page data is the JSON API's, read field by field
type D = any;

const live = (id: string, body: Html) => html`<section id="${id}" data-live>${body}</section>`;

const kinds = (k: Record<string, number>) =>
  Object.entries(k)
    .map(([name, n]) => `${n} ${name}`)
    .join(', ') || 'none';

export function homePage(d: D): Html {
  const series = d.series as { height: number; difficulty: number; openProblems: number }[];
  const m = d.mempool;
  return html`<h1>Zi ${d.network}</h1>
${live(
  'summary',
  facts([
    ['tip', html`${blockLink(d.tip.height, `#${d.tip.height}`)} ${time(d.tip.time)}`],
    [
      'hash rate',
      html`<span id="hashrate">${hashrate(d.hashrate)}</span> <span class="muted">(network, last blocks)</span>`,
    ],
    ['difficulty', html`${num(d.difficulty.current, 2)} bits now, ${num(d.difficulty.next, 2)} next`],
    ['open problems |Po|', num(d.difficulty.openProblems)],
    ['peers', num(d.peers)],
    [
      'mempool',
      html`<span id="mempool-count">${num(m.count)}</span> txs, ${num(m.bytes)} bytes; fee rate p10 / p50 / p90: ${num(m.feeRate.p10, 1)} / ${num(m.feeRate.p50, 1)} / ${num(m.feeRate.p90, 1)} Li/byte${m.count ? html` <span class="muted">(${kinds(m.kinds)})</span>` : ''}`,
    ],
  ]),
)}
<h2>Difficulty and open contracts</h2>
<p class="muted">Zi's difficulty answers the number of open contracts |Po|: more open problems, easier blocks.</p>
${live(
  'chart',
  lineChart(
    [
      { name: 'difficulty (bits)', cls: 's1', points: series.map((p) => ({ x: p.height, y: p.difficulty })) },
      { name: '|Po| open contracts', cls: 's2', points: series.map((p) => ({ x: p.height, y: p.openProblems })) },
    ],
    { xLabel: 'height' },
  ),
)}
<h2>Recent blocks</h2>
${live(
  'recent',
  table(
    ['height', 'hash', 'time', 'txs', 'votes', 'miner', 'size'],
    (d.recent as D[]).map((b) => [
      blockLink(b.height, b.height),
      blockLink(b.hash),
      time(b.time),
      html`${b.txs}${b.txs ? html` <span class="muted">(${kinds(b.kinds)})</span>` : ''}`,
      b.votes,
      addressLink(b.miner),
      `${num(b.size)} B`,
    ]),
  ),
)}`;
}

function txRow(tx: D): unknown[] {
  return [txLink(tx.txid), tx.kind, addressLink(tx.from), txSummary(tx), li(tx.fee)];
}

/** The one line that says what a transaction of each kind does. */
export function txSummary(tx: D): Html {
  switch (tx.kind) {
    case 'transfer':
      return html`${li(tx.amount)} to ${addressLink(tx.to)}`;
    case 'contract':
      return html`budget ${li(tx.budget)} at ${li(tx.price)}/MCU, ${tx.validation} validation (${num(tx.codeBytes)} B of code)`;
    case 'topup':
      return html`${li(tx.amount)} into ${contractLink(tx.contract)}`;
    case 'payout':
      return html`${num(tx.mcus)} MCU${tx.mcus === 1 ? '' : 's'} of ${contractLink(tx.contract)} at ${li(tx.price)}, signed by ${addressLink(tx.authority)}`;
    case 'close':
      return html`closes ${contractLink(tx.contract)}${tx.refund !== undefined ? html`, ${li(tx.refund)} back` : ''}`;
    case 'stake':
      return html`stakes ${li(tx.amount)}`;
    case 'unstake':
      return html`takes the stake back`;
    case 'fundvote':
      return html`votes the fund to ${addressLink(tx.payee)}`;
    case 'appeal':
      return html`appeals the audit of ${contractLink(tx.contract)}, paying at most ${li(tx.maxPayment)}`;
    default:
      return html`<span class="muted">kind ${tx.kind}</span>`;
  }
}

export function blockPage(d: D): Html {
  const byKind = Object.entries(d.byKind as Record<string, D[]>);
  return html`<h1>Block ${d.height}</h1>
${d.main ? '' : html`<p class="warn">This block is on a side chain: not part of the main chain.</p>`}
${facts([
  ['hash', html`<span class="mono">${d.hash}</span>`],
  ['time', time(d.time)],
  ['parent', d.height > 0 ? blockLink(d.parent) : 'none (genesis)'],
  ['next', d.next ? blockLink(d.next) : html`<span class="muted">none yet</span>`],
  ['confirmations', live('confirmations', raw(String(d.confirmations)))],
  ['miner', addressLink(d.miner)],
  ['reward', html`${li(d.reward)} <span class="muted">(subsidy and ${li(d.fees)} of fees)</span>`],
  ['difficulty', `${num(d.difficulty, 2)} bits`],
  ['open problems after it', num(d.openProblems)],
  ['size', `${num(d.size)} bytes`],
  ['merkle root', html`<span class="mono">${d.merkleRoot}</span>`],
  ['nonce', String(d.nonce)],
])}
<h2>Transactions (${d.txCount})</h2>
${byKind.length === 0 ? html`<p class="muted">none: the block pays its miner only</p>` : ''}
${byKind.map(([kind, txs]) => html`<h3>${kind} (${txs.length})</h3>${table(['id', 'kind', 'from', 'what', 'fee'], txs.map(txRow))}`)}
<h2>Audit votes (${d.votes.length})</h2>
<p class="muted">Each vote is the block's miner's, ${addressLink(d.miner)}.</p>
${table(
  ['contract', 'round', 'verdict', 'first failing MCU'],
  (d.votes as D[]).map((v) => [
    v.contract ? contractLink(v.contract) : '—',
    v.round ?? '—',
    v.verdict ?? '—',
    v.failingIndex ?? '—',
  ]),
  'none',
)}`;
}

export function txPage(d: D): Html {
  const known = new Set([
    'txid',
    'kind',
    'from',
    'nonce',
    'fee',
    'size',
    'status',
    'block',
    'height',
    'confirmations',
    'time',
    'paid',
  ]);
  const fields = Object.entries(d).filter(([k]) => !known.has(k));
  return html`<h1>Transaction <span class="mono small">${short(d.txid, 16)}</span></h1>
<p class="lead">${d.kind}: ${txSummary(d)}</p>
${live(
  'txstatus',
  facts([
    ['id', html`<span class="mono">${d.txid}</span>`],
    [
      'status',
      d.status === 'confirmed'
        ? html`confirmed in ${blockLink(d.block, `block ${d.height}`)}, ${d.confirmations} confirmations`
        : 'pending in the mempool',
    ],
    ...(d.time ? [['time', time(d.time)] as [string, unknown]] : []),
  ]),
)}
${facts([
  ['kind', d.kind],
  ['from', addressLink(d.from)],
  ['nonce', String(d.nonce)],
  ['fee', d.kind === 'payout' ? html`${li(d.fee)} <span class="muted">(from the contract's escrow)</span>` : li(d.fee)],
  ['size', `${num(d.size)} bytes`],
  ...(d.kind === 'contract' ? [['contract', contractLink(d.txid)] as [string, unknown]] : []),
  ...(d.paid !== undefined ? [['paid to the Solver', li(d.paid)] as [string, unknown]] : []),
])}
<h2>Decoded ${d.kind}</h2>
${facts(fields.map(([k, v]) => [k, fieldValue(k, v)]))}`;
}

function fieldValue(k: string, v: unknown): unknown {
  if (typeof v === 'string' && /^zid?[a-z]*1[02-9ac-hj-np-z]{20,}$/.test(v)) return addressLink(v);
  if (k === 'contract' && typeof v === 'string') return contractLink(v);
  if (['amount', 'budget', 'price', 'validationFee', 'refund', 'maxPayment', 'paid'].includes(k)) return li(v);
  if (Array.isArray(v)) return html`<span class="mono">${JSON.stringify(v)}</span>`;
  if (typeof v === 'object' && v !== null)
    return html`<span class="mono">${JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x))}</span>`;
  return String(v);
}

export function addressPage(d: D): Html {
  const hist = d.history as D[];
  return html`<h1>Address <span class="mono small">${d.address}</span></h1>
${d.reserved ? html`<p class="lead">000: the shared fund's address. Transfers here go to the fund, not to an account.</p>` : ''}
${live(
  'account',
  facts([
    ['balance', li(d.balance)],
    ['nonce', String(d.nonce)],
    [
      'active',
      d.active
        ? html`yes, until ${time(d.activity.activeUntil)}`
        : html`no <span class="muted">(${d.activity.recentTxs} of ${d.activity.neededTxs} transactions in ${d.activity.windowDays} days)</span>`,
    ],
    [
      'pending',
      (d.pending as string[]).length ? html`${(d.pending as string[]).map((t) => html`${txLink(t)} `)}` : 'none',
    ],
  ]),
)}
${
  d.validator
    ? html`<h2>Validator</h2>${facts([
        ['stake', li(d.validator.amount)],
        ['free / reserved', html`${li(d.validator.free)} / ${li(d.validator.reserved)}`],
        ['contracts assigned', num(d.validator.contracts)],
        ['matured', d.validator.matured ? 'yes' : `at block ${d.validator.maturesAt}`],
        ['audits passed / failed', `${d.validator.audits.passed} / ${d.validator.audits.failed}`],
        ['banned', d.validator.banned ? html`<span class="warn">yes</span>` : 'no'],
      ])}`
    : ''
}
${
  d.solver
    ? html`<h2>Solver</h2>${facts([
        ['MCUs paid', num(d.solver.mcus)],
        ['earned', li(d.solver.li)],
        ['payouts', num(d.solver.payouts)],
        ['recent rate', `${num(d.solver.rate, 1)} MCU/s`],
        [
          'first / last payout',
          html`${blockLink(d.solver.firstHeight, d.solver.firstHeight)} / ${blockLink(d.solver.lastHeight, d.solver.lastHeight)}`,
        ],
      ])}`
    : ''
}
<h2>History</h2>
${live(
  'history',
  table(
    ['block', 'time', 'what', 'amount'],
    hist.flatMap((h) =>
      (h.items as D[]).map((it, i) => [
        i === 0 ? blockLink(h.height, h.height) : '',
        i === 0 ? time(h.time) : '',
        it.type === 'reward'
          ? html`mining reward of ${blockLink(it.block)}`
          : it.type === 'block'
            ? html`<span class="muted">${it.what}</span>`
            : html`${txLink(it.txid)} ${it.kind}: ${txSummary(it)}`,
        signedLi(it.li),
      ]),
    ),
    'no transactions yet',
  ),
)}
${d.olderBefore !== null ? link(`/address/${d.address}?before=${d.olderBefore}`, 'older →', 'older') : ''}`;
}

export function searchPage(q: string, d: D): Html {
  return html`<h1>Search</h1><p>Results for <b>${q}</b>:</p>
${table(
  ['kind', 'id'],
  (d.matches as D[]).map((m) => [m.kind, link(m.url, m.id, 'mono')]),
  'nothing matches',
)}`;
}

function contractRow(c: D): unknown[] {
  return [
    contractLink(c.id),
    li(c.price),
    html`${li(c.escrow)} <span class="muted">(${num(c.escrowMcus)} MCUs)</span>`,
    fractionBar(c.fraction),
    c.fraction === 1 ? 'done' : c.etaSeconds === null ? '—' : duration(c.etaSeconds),
    addressLink(c.authority?.address ?? c.authority),
    c.validation,
  ];
}

export function contractsPage(d: D): Html {
  return html`<h1>Contracts</h1>
<h2>Open (${d.open.length}), best paying first</h2>
${live('open', table(['contract', 'price/MCU', 'escrow left', 'progress', 'ETA', 'authority', 'validation'], (d.open as D[]).map(contractRow), 'no open contracts'))}
<h2>Recently closed</h2>
${table(
  ['contract', 'price/MCU', 'paid MCUs', 'closed at', 'bidder'],
  (d.closed as D[]).map((c) => [
    contractLink(c.id),
    li(c.price),
    num(c.paidMcus),
    blockLink(c.closedHeight, c.closedHeight),
    addressLink(c.bidder),
  ]),
  'none',
)}`;
}

export function contractPage(d: D): Html {
  const size = typeof d.size === 'number' ? d.size : null;
  // Cumulative MCUs by height, from the block before the first payout.
  const pts: { x: number; y: number }[] = [];
  let total = 0;
  for (const p of d.payoutsOverTime as D[]) {
    if (pts.length === 0) pts.push({ x: p.height - 1, y: 0 });
    total += Number(p.mcus);
    if (pts.at(-1)!.x === p.height) pts.at(-1)!.y = total;
    else pts.push({ x: p.height, y: total });
  }
  if (pts.length > 0 && pts.at(-1)!.x < d.tipHeight) pts.push({ x: d.tipHeight, y: total });
  const rep = d.authorityReputation;
  const audit = d.audit;
  return html`<h1>Contract <span class="mono small">${short(d.id, 16)}</span></h1>
${live(
  'state',
  html`${facts([
    ['status', d.status],
    ['price', html`${li(d.price)} per MCU${d.validationFee ? html` + ${li(d.validationFee)} validation fee` : ''}`],
    ['escrow left', html`${li(d.escrow)} <span class="muted">(pays ${num(d.escrowMcus)} more MCUs)</span>`],
    [
      'paid',
      html`${num(d.paidMcus)} of ${size === null ? 'unknown' : num(size)} MCUs, ${li(d.paidToSolvers)} to Solvers in ${num(d.payouts)} payouts`,
    ],
    ['pace', `${num(d.rate.mcusPerSecond, 1)} MCU/s over the latest blocks`],
    ['ETA', d.status !== 'open' ? '—' : d.fraction === 1 ? 'done: every MCU is paid' : duration(d.etaSeconds)],
    ['opened', html`${blockLink(d.openedHeight, `block ${d.openedHeight}`)} by ${addressLink(d.bidder)}`],
    ...(d.closedHeight ? [['closed', blockLink(d.closedHeight, `block ${d.closedHeight}`)] as [string, unknown]] : []),
  ])}
<h2>Paid ranges</h2>
${size ? rangesBar(d.paidRanges, size) : html`<p class="muted">size unknown here: ${num(d.paidRanges.length)} ranges paid</p>`}
<p class="muted">${num(d.paidRanges.length)} ${d.paidRanges.length === 1 ? 'range' : 'ranges'}${size ? html`, ${((Number(d.paidMcus) / size) * 100).toFixed(1)}% of the index space` : ''}</p>`,
)}
${
  d.image
    ? html`<h2>Results</h2>
<p class="muted">Drawn here from each paid batch's results, fetched by CID: MCU i at column i % ${d.image.width}, rows from the bottom (the Mandelbrot layout). Grey: not paid yet.</p>
<canvas id="results" width="${d.image.width}" height="${d.image.height}" data-contract="${d.id}" data-drawn="0"></canvas>
<p id="results-status" class="muted"></p>`
    : ''
}
<h2>Payouts over time</h2>
${live('payouts', lineChart([{ name: 'MCUs paid (cumulative)', cls: 's1', points: pts }], { xLabel: 'height', height: 160 }))}
<h2>Solvers</h2>
${live(
  'solvers',
  table(
    ['Solver', 'MCUs', 'earned', 'payouts'],
    (d.solvers as D[]).map((s) => [addressLink(s.address), num(s.mcus), li(s.li), num(s.payouts)]),
    'no Solver paid yet',
  ),
)}
<h2>Authority</h2>
${live(
  'authority',
  facts([
    ['signs', html`${d.authority.role}: ${addressLink(d.authority.address)}`],
    ['validation', d.validation],
    ...(rep
      ? ([
          [
            'reputation',
            html`${num(rep.paidContracts)} of ${num(rep.contracts)} contracts paid, ${num(rep.mcusPaid)} MCUs`,
          ],
          [
            'first payout after',
            rep.firstPayoutBlocks === null ? '—' : `${num(rep.firstPayoutBlocks, 1)} blocks (median)`,
          ],
          ['between payouts', rep.cadenceBlocks === null ? '—' : `${num(rep.cadenceBlocks, 2)} blocks`],
        ] as [string, unknown][])
      : []),
    ...(d.validatorRecord
      ? ([
          ['Validator stake', html`${li(d.validatorRecord.amount)} (${li(d.validatorRecord.free)} free)`],
          [
            'Validator audits',
            `${d.validatorAudits.passed} passed, ${d.validatorAudits.failed} failed${d.validatorRecord.banned ? ', banned' : ''}`,
          ],
        ] as [string, unknown][])
      : []),
  ]),
)}
<h2>Audit</h2>
${live(
  'audit',
  audit
    ? html`${facts([
        ['status', audit.status],
        ['round', audit.round],
        ['verdict', audit.verdict ?? 'pending'],
        ['appeal window ends', audit.appealWindowEnds ? time(audit.appealWindowEnds) : '—'],
      ])}${table(
        ['voter', 'round', 'verdict', 'block', 'paid'],
        (audit.votes as D[]).map((v) => [
          addressLink(v.miner),
          v.round,
          v.verdict,
          blockLink(v.height, v.height),
          li(v.paid),
        ]),
        'no votes yet',
      )}`
    : html`<p class="muted">${d.validation === 'delegated' ? 'no audit: it opens when the contract closes with payouts its Validator signed' : 'none: its Bidder validates it'}</p>`,
)}
<h2>Code</h2>
${facts([
  ['sha-256', html`<span class="mono">${d.codeSha256}</span>`],
  [
    'sandbox',
    `${d.memoryMiB} MiB, ${num(d.timeoutMs)} ms per call; sample ${d.sampleRate}‰; batches grow ×${d.growth} to ${num(d.maxBatch)}`,
  ],
])}
<pre class="code">${d.code}</pre>`;
}

export function solversPage(d: D): Html {
  return html`<h1>Solvers</h1>
<h2>Best-paying open contracts</h2>
${live('best', table(['contract', 'price/MCU', 'escrow left', 'progress', 'ETA', 'authority', 'validation'], (d.bestOpen as D[]).map(contractRow), 'no open contract pays now'))}
<h2>Leaderboard</h2>
<p class="muted">Batches refused are known only from a Solver's own session log: shown for this node's Solver.</p>
${live(
  'board',
  table(
    ['#', 'Solver', 'MCUs', 'earned', 'payouts', 'recent rate', 'last paid', 'batches refused'],
    (d.leaderboard as D[]).map((s, i) => [
      i + 1,
      addressLink(s.address),
      num(s.mcus),
      li(s.li),
      num(s.payouts),
      `${num(s.rate, 1)} MCU/s`,
      blockLink(s.lastHeight, s.lastHeight),
      s.batchesRejected === null ? '—' : num(s.batchesRejected),
    ]),
    'no Solver paid yet',
  ),
)}`;
}

export function validatorsPage(d: D): Html {
  const r = d.requirement;
  return html`<h1>Validators</h1>
${facts([
  ['stake required now (R)', li(r.required)],
  ['delegated contracts in the window', num(r.delegatedInWindow)],
  ['maturity', `${r.maturityBlocks} blocks`],
])}
${live(
  'validators',
  table(
    ['Validator', 'stake', 'free', 'reserved', 'contracts', 'audits passed', 'failed', 'matured', 'banned'],
    (d.validators as D[]).map((v) => [
      addressLink(v.address),
      li(v.amount),
      li(v.free),
      li(v.reserved),
      num(v.contracts),
      v.audits.passed,
      v.audits.failed,
      v.matured ? 'yes' : `at ${v.maturesAt}`,
      v.banned ? html`<span class="warn">banned</span>` : 'no',
    ]),
    'no Validator has staked',
  ),
)}`;
}

export function auditsPage(d: D): Html {
  return html`<h1>Audits</h1>
<h2>Open, appealing or in their appeal window</h2>
${live(
  'pending',
  table(
    ['contract', 'Validator', 'status', 'round', 'votes', 'verdict', 'appeal window ends'],
    (d.audits as D[]).map((a) => [
      contractLink(a.contract),
      addressLink(a.validator),
      a.status,
      a.round,
      a.votes.length,
      a.verdict ?? 'pending',
      a.appealWindowEnds ? time(a.appealWindowEnds) : '—',
    ]),
    'no audit is open',
  ),
)}
<h2>Recent verdicts</h2>
${table(
  ['final at', 'contract', 'verdict', 'Validator', 'votes'],
  (d.finished as D[]).map((f) => [
    blockLink(f.height, f.height),
    contractLink(f.contract),
    f.valid ? 'valid' : html`<span class="warn">invalid</span>`,
    addressLink(f.audit?.validator),
    f.audit?.votes.length ?? '—',
  ]),
  'none yet',
)}
${facts([
  ['shared fund', link('/fund', li(d.fund))],
  ['Li minted to audit votes, ever', li(d.minted)],
])}`;
}

export function fundPage(d: D): Html {
  const fill = d.threshold > 0n ? Number((d.balance * 1000n) / d.threshold) / 1000 : null;
  return html`<h1>Shared fund</h1>
${live(
  'fund',
  html`${facts([
    ['balance', html`${li(d.balance)} of ${li(d.threshold)} ${fractionBar(fill)}`],
    ['threshold', `1 Zi per active address: ${num(d.active)} active`],
    ['pays out', d.due ? 'in the next block' : 'once the balance reaches the threshold'],
    ['voters', `${num(d.countedVoters)} counted of ${num(d.voters)}`],
  ])}
<h2>Tally by payee</h2>
${table(
  ['payee', 'voters', 'weight', 'would get now'],
  (d.tally as D[]).map((t) => [addressLink(t.payee), num(t.voters), li(t.weight), li(t.share)]),
  'no votes yet',
)}
<h2>Past payouts</h2>
${table(
  ['block', 'paid', 'shares'],
  (d.payouts as D[]).map((p) => [
    blockLink(p.height, p.height),
    li(p.paid),
    html`${(p.shares as D[]).map((s) => html`${addressLink(s.payee)} ${li(s.amount)}; `)}`,
  ]),
  'none yet',
)}`,
)}`;
}

export function errorPage(status: number, code: string, message: string): Html {
  const title = status === 400 ? 'Bad request' : status === 404 ? 'Not found' : status === 503 ? 'Busy' : 'Error';
  return html`<h1>${status} ${title}</h1><p class="error" data-code="${code}">${message}</p><p>${link('/', 'Back to the home page')}</p>`;
}

export function apiPage(routes: readonly [string, string][]): Html {
  return html`<h1>JSON API</h1><p>Read-only; amounts are strings of Li. See docs/EXPLORER.md.</p>
${table(
  ['GET', 'what'],
  routes.map(([r, w]) => [html`<code>${r}</code>`, w]),
)}`;
}
