/**
 * The status page at `/`: one self-contained HTML document (no external resources) whose
 * script reads `/status` every second and redraws a picture (SVG) of the groups per node by
 * state, as this node sees them (leader and follower replicas, and this node's own awake,
 * quiesced and dormant ones), and the ranges as a table (range, leader, term, commit,
 * this replica's state, the followers' progress states). Elements carry `data-*` attributes
 * (`data-range`, `data-leader`, `data-node`) so that tests can read what is shown.
 */

const SCRIPT = String.raw`
const RANGES_SHOWN = 200;
const el = (tag, attrs = {}, text) => {
  const ns = ['svg', 'rect', 'text', 'g'].includes(tag) ? 'http://www.w3.org/2000/svg' : null;
  const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
};
const short = (s) => s.replace(/^State/, '').toLowerCase();

function groupsPerNode(status) {
  const nodes = new Map();
  const node = (id) => {
    if (!nodes.has(id)) nodes.set(id, { leader: 0, follower: 0 });
    return nodes.get(id);
  };
  node(status.node.nodeId);
  for (const p of status.peers) node(p.nodeId);
  for (const r of status.ranges) {
    if (r.lead !== 0) node(r.lead).leader++;
    if (r.lead !== status.node.nodeId) node(status.node.nodeId).follower++;
    for (const p of r.progress) if (p.nodeId !== r.lead) node(p.nodeId).follower++;
  }
  return [...nodes.entries()].sort((a, b) => a[0] - b[0]);
}

function drawPicture(status) {
  const rows = groupsPerNode(status);
  const max = Math.max(1, ...rows.map(([, c]) => c.leader + c.follower));
  const svg = el('svg', { width: 760, height: 40 + rows.length * 34, role: 'img',
    'aria-label': 'groups per node by state' });
  rows.forEach(([id, c], i) => {
    const y = 20 + i * 34;
    const g = el('g', { 'data-node': id, 'data-leaders': c.leader, 'data-followers': c.follower });
    const live = id === status.node.nodeId || status.peers.some((p) => p.nodeId === id && p.live);
    g.append(el('text', { x: 0, y: y + 16 }, 'n' + id + (live ? '' : ' (down)')));
    const wl = (420 * c.leader) / max;
    const wf = (420 * c.follower) / max;
    g.append(el('rect', { x: 90, y, width: wl, height: 22, fill: '#2b7bb9' }));
    g.append(el('rect', { x: 90 + wl, y, width: wf, height: 22, fill: '#9cc3e4' }));
    g.append(el('text', { x: 96 + wl + wf, y: y + 16 }, c.leader + ' leaders, ' +
      c.follower + ' followers'));
    svg.append(g);
  });
  document.getElementById('picture').replaceChildren(svg);
  const s = status.summary;
  document.getElementById('local').textContent = 'this node (n' + status.node.nodeId + '): ' +
    s.replicas + ' replicas, ' + s.awake + ' awake, ' + s.quiesced + ' quiesced (' + s.dormant +
    ' dormant), ' + s.leaderless + ' without a leader';
}

function drawTable(status) {
  const body = document.getElementById('ranges');
  const rows = status.ranges.slice(0, RANGES_SHOWN).map((r) => {
    const tr = el('tr', { 'data-range': r.rangeId, 'data-leader': r.lead });
    const followers = r.progress.filter((p) => p.nodeId !== r.lead)
      .map((p) => 'n' + p.nodeId + ' ' + short(p.state)).join(', ');
    for (const cell of [r.rangeId, r.lead === 0 ? '-' : 'n' + r.lead, r.term, r.commit,
      short(r.state) + (r.dormant ? ' (dormant)' : r.quiesced ? ' (quiesced)' : ''),
      followers || (r.lead === status.node.nodeId || r.lead === 0 ? '' :
        'known to the leader, n' + r.lead)]) {
      tr.append(el('td', {}, cell));
    }
    return tr;
  });
  body.replaceChildren(...rows);
  const more = status.ranges.length > RANGES_SHOWN || status.rangesTruncated;
  document.getElementById('more').textContent = more ? 'first ' + RANGES_SHOWN + ' of ' +
    status.summary.replicas + ' ranges shown' : '';
}

async function refresh() {
  try {
    const res = await fetch('/status?ranges=' + RANGES_SHOWN, { cache: 'no-store' });
    const status = await res.json();
    document.getElementById('title').textContent = 'Flotilla node n' + status.node.nodeId +
      ' - cluster ' + status.node.clusterId + ' - v' + status.node.version;
    drawPicture(status);
    drawTable(status);
    document.body.dataset.updated = String(Date.now());
    document.getElementById('error').textContent = '';
  } catch (error) {
    document.getElementById('error').textContent = 'cannot read /status: ' + error;
  }
}
refresh();
setInterval(refresh, 1000);
`;

/** The page, served as is. */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Flotilla node</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
  table { border-collapse: collapse; margin-top: 1em; }
  td, th { padding: 2px 10px; border-bottom: 1px solid #ddd; text-align: right; }
  td:last-child, th:last-child { text-align: left; }
  #error { color: #b00; }
  svg text { font: 13px system-ui, sans-serif; }
</style>
</head>
<body>
<h1 id="title">Flotilla node</h1>
<p id="error"></p>
<h2>Groups per node</h2>
<div id="picture"></div>
<p id="local"></p>
<h2>Ranges</h2>
<table>
<thead><tr><th>range</th><th>leader</th><th>term</th><th>commit</th><th>this replica</th>
<th>followers</th></tr></thead>
<tbody id="ranges"></tbody>
</table>
<p id="more"></p>
<script>${SCRIPT}</script>
</body>
</html>
`;
