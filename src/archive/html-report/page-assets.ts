/**
 * The inline stylesheet and script of the HTML report (the page loads nothing from
 * elsewhere, so it can be mailed or opened from an archive server's disk).
 */

export const CSS = `
:root{--fg:#1f2933;--muted:#5f6b7a;--line:#e4e7eb;--blue:#2563eb}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1120px;padding:20px 28px 48px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:#fff}
h1{font-size:24px;margin:0 0 4px}h1 .sub{font-weight:400;color:var(--muted);font-size:17px}
h2{font-size:16px;margin:28px 0 8px}
.meta{color:var(--muted);margin:0 0 16px}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:#fafbfc}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.03em}
.card .v{font-size:22px;font-weight:600;margin:2px 0}
.card .s{color:var(--muted);font-size:12px}
.card.warn{border-color:#f5c26b;background:#fffaf0}.card.bad{border-color:#f19a9a;background:#fff5f5}.card.bad .v{color:#b91c1c}
svg.chart{width:100%;height:auto;display:block;border:1px solid var(--line);border-radius:8px;background:#fff}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;font-size:12px;fill:#3e4c59}
.grid{stroke:#eef0f3}.axis{stroke:#9aa5b1}.tick{stroke:#9aa5b1}
.ylab{text-anchor:end}.unit{font-size:11px;fill:var(--muted)}.xlab{text-anchor:middle}
.line{fill:none;stroke:var(--blue);stroke-width:1.8;stroke-linejoin:round}.area{fill:#2563eb;fill-opacity:.12;stroke:none}.dot{fill:var(--blue)}
.uline{fill:none;stroke-width:1.6;stroke-linejoin:round}
.expected{stroke:#374151;stroke-dasharray:6 4;stroke-width:1.2}
.gap{fill-opacity:.28}.gap:hover{fill-opacity:.5}
.bar:hover,.hbar:hover{opacity:.8}
.marker{stroke:#111827;stroke-dasharray:3 3}.mlab{font-size:11px;fill:#111827}
.rlab{text-anchor:end;font-size:13px}.rval{font-size:13px;font-weight:600}
.cursor{stroke:#111827;stroke-width:1;stroke-dasharray:2 2}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;margin:8px 2px 0;color:var(--muted);font-size:13px}
.legend i{display:inline-block;width:14px;height:10px;border-radius:2px;margin-right:6px;vertical-align:baseline}
.legend i.dash{height:0;border-top:2px dashed #374151;border-radius:0;vertical-align:middle}
.note{color:var(--muted);font-size:13px;margin:6px 2px}
.ok{color:#047857}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
thead th{color:var(--muted);font-weight:600;font-size:12px}
td.num{text-align:right;white-space:nowrap}td.time{white-space:nowrap}
table.kv th{width:190px;color:var(--muted);font-weight:500}
tr.g-none td{background:#fff5f5}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;white-space:nowrap}
#tip{position:absolute;pointer-events:none;background:#111827;color:#fff;padding:4px 8px;border-radius:4px;font-size:12px;white-space:nowrap;z-index:10}
@media print{#tip{display:none}}
`;

// Hover read-outs for the time charts, and a marker that the page was laid out (checked by the tests).
export const SCRIPT = `
(function(){
  var tip=document.getElementById('tip');
  document.querySelectorAll('svg[data-hover]').forEach(function(svg){
    var data=document.getElementById(svg.getAttribute('data-hover'));
    var pts=data?JSON.parse(data.textContent):[];
    var cur=svg.querySelector('.cursor');
    if(!pts.length||!cur)return;
    svg.addEventListener('mousemove',function(ev){
      var ctm=svg.getScreenCTM();if(!ctm)return;
      var p=svg.createSVGPoint();p.x=ev.clientX;p.y=ev.clientY;var x=p.matrixTransform(ctm.inverse()).x;
      var lo=0,hi=pts.length-1;while(lo<hi){var mid=(lo+hi)>>1;if(pts[mid][0]<x)lo=mid+1;else hi=mid;}
      if(lo>0&&Math.abs(pts[lo-1][0]-x)<Math.abs(pts[lo][0]-x))lo--;
      cur.setAttribute('x1',pts[lo][0]);cur.setAttribute('x2',pts[lo][0]);cur.setAttribute('visibility','visible');
      tip.textContent=pts[lo][1];tip.hidden=false;tip.style.left=(ev.pageX+14)+'px';tip.style.top=(ev.pageY+14)+'px';
    });
    svg.addEventListener('mouseleave',function(){cur.setAttribute('visibility','hidden');tip.hidden=true;});
  });
  var drawn=0;
  document.querySelectorAll('svg.chart').forEach(function(svg){var b=svg.getBoundingClientRect();if(b.width>100&&b.height>20&&svg.childElementCount>0)drawn++;});
  document.body.setAttribute('data-charts-drawn',String(drawn));
})();
`;
