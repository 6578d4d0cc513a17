/** Escapes text for HTML bodies and attribute values (double-quoted). */
export function esc(value: unknown): string {
  const text =
    value === null || value === undefined
      ? ''
      : typeof value === 'string'
        ? value
        : typeof value === 'number' || typeof value === 'boolean'
          ? String(value)
          : JSON.stringify(value);
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export function age(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7_200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3_600)}h`;
}

export function table(headers: string[], rows: string[][], empty = 'nothing here'): string {
  if (rows.length === 0) return `<p class="empty">${esc(empty)}</p>`;
  return `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export const NAV: Array<[string, string]> = [
  ['/', 'Overview'],
  ['/workers', 'Machines & workers'],
  ['/jobs', 'Jobs'],
  ['/workflows', 'Workflows'],
  ['/redis', 'Redis'],
];

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{background:#1b1f24;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header a{color:#cfd6de;text-decoration:none}header a.on{color:#fff;font-weight:600}
#live{margin-left:auto;font-size:12px}#live.up::before{content:'● ';color:#3fb950}#live.down::before{content:'● ';color:#f85149}
main{padding:12px 16px;max-width:1400px}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0 14px}
th,td{border-bottom:1px solid #e3e6ea;padding:4px 6px;text-align:left;vertical-align:top;font-size:13px}
th{background:#eef0f3}code,pre{font:12px ui-monospace,monospace}pre{background:#fff;padding:8px;overflow:auto;max-height:300px}
.bad{color:#b42318;font-weight:600}.warn{color:#9a6700}.ok{color:#1a7f37}.empty{color:#777}
.cards{display:flex;gap:10px;flex-wrap:wrap}.card{background:#fff;padding:8px 12px;border:1px solid #e3e6ea;min-width:110px}
.card b{display:block;font-size:20px}form.inline{display:inline}button{cursor:pointer}
.banner{padding:8px 12px;margin:6px 0;border:1px solid}.banner.bad{background:#fff0ee;border-color:#f1aeb5}.banner.ok{background:#eefbf0;border-color:#a6e3b4}
`;

/**
 * The page shell. The script keeps the page live: every event or tick from `/ws` schedules a
 * refetch of this URL's `<main>` (server-rendered, `x-fragment: 1`), at most one per 500 ms.
 */
export function layout(title: string, path: string, body: string, operator: string): string {
  const nav = NAV.map(
    ([href, label]) =>
      `<a href="${href}"${path === href || (href !== '/' && path.startsWith(href)) ? ' class="on"' : ''}>${esc(label)}</a>`,
  ).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · jobgate monitor</title><style>${STYLE}</style></head><body>
<header><strong>jobgate monitor</strong>${nav}<span id="live" class="down">connecting</span><span>${esc(operator)}</span></header>
<main id="main">${body}</main>
<script>
(function(){
  var live=document.getElementById('live'),main=document.getElementById('main'),pending=false,last=0;
  function refresh(){
    if(pending)return;pending=true;
    var wait=Math.max(0,500-(Date.now()-last));
    setTimeout(function(){
      fetch(location.pathname+location.search,{headers:{'x-fragment':'1'},credentials:'same-origin'})
        .then(function(r){return r.ok?r.text():null}).then(function(html){
          if(html!==null&&!document.querySelector('main :focus'))main.innerHTML=html;
        }).finally(function(){pending=false;last=Date.now();});
    },wait);
  }
  function connect(){
    var ws=new WebSocket((location.protocol==='https:'?'wss://':'ws://')+location.host+'/ws');
    ws.onopen=function(){live.className='up';live.textContent='live';};
    ws.onmessage=function(){refresh();};
    ws.onclose=function(){live.className='down';live.textContent='reconnecting';setTimeout(connect,1000);};
  }
  connect();
  document.addEventListener('submit',function(e){
    var f=e.target;if(f.dataset.confirm&&!window.confirm(f.dataset.confirm))e.preventDefault();
  });
})();
</script></body></html>`;
}
