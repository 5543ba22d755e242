/**
 * The console's one stylesheet, served as /console/assets/console.css (no inline styles, so the
 * Content-Security-Policy needs no 'unsafe-inline'). Kept as a string so the compiled build
 * (dist/) needs no file copied beside it.
 */
export const CONSOLE_CSS = `
:root { --fg: #1b1f24; --muted: #4a5562; --bg: #ffffff; --panel: #f4f6f8; --line: #d0d7de; --accent: #0b5cad;
  --bad: #a40e26; --warn: #7a4d00; --good: #116329; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); font-size: 15px; line-height: 1.45; }
a { color: var(--accent); }
a:focus, button:focus, input:focus, select:focus { outline: 3px solid #f2a900; outline-offset: 1px; }
header.top { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.25rem; background: #0d2538; color: #fff; flex-wrap: wrap; }
header.top a { color: #fff; text-decoration: none; }
header.top a[aria-current="page"] { text-decoration: underline; text-underline-offset: 4px; }
header.top .brand { font-weight: 700; letter-spacing: .02em; }
header.top nav ul { display: flex; gap: 1rem; list-style: none; margin: 0; padding: 0; flex-wrap: wrap; }
header.top .who { margin-left: auto; display: flex; gap: .75rem; align-items: center; font-size: .9em; }
header.top .who button { background: transparent; color: #fff; border: 1px solid #9fb3c8; padding: .2rem .6rem; border-radius: 4px; cursor: pointer; }
main { padding: 1rem 1.25rem 3rem; max-width: 1200px; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.75rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .93em; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: .75rem; margin: .5rem 0 1rem; padding: 0; list-style: none; }
.cards li { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; }
.cards .n { display: block; font-size: 1.5rem; font-weight: 700; font-variant-numeric: tabular-nums; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: .5rem 0 1rem; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
.status { display: inline-block; padding: 0 .45rem; border-radius: 3px; font-size: .85em; font-weight: 600; background: #e6eaef; color: var(--fg); }
.status-CONFIRMED, .status-COMPENSATED, .status-ok { background: #dafbe1; color: var(--good); }
.status-NEEDS_ATTENTION, .status-REJECTED, .status-bad { background: #ffebe9; color: var(--bad); }
.status-COMPENSATING, .status-PENDING, .status-INVENTORY_RESERVED, .status-PAYMENT_CAPTURED, .status-warn { background: #fff8c5; color: var(--warn); }
.neg { color: var(--bad); }
.muted { color: var(--muted); }
.notice { border: 1px solid var(--line); border-left: 4px solid var(--accent); background: var(--panel); padding: .6rem .9rem; margin: .75rem 0; }
.notice.bad { border-left-color: var(--bad); }
.notice.good { border-left-color: var(--good); }
.secret { font-family: ui-monospace, monospace; background: #fff; border: 1px dashed var(--bad); padding: .4rem .6rem; word-break: break-all; display: block; }
form.inline { display: inline; }
form.search { display: flex; flex-wrap: wrap; gap: .75rem; align-items: flex-end; background: var(--panel); padding: .75rem; border: 1px solid var(--line); border-radius: 6px; }
form.search label, form.stack label { display: flex; flex-direction: column; font-size: .9em; gap: .2rem; }
form.stack { display: flex; flex-direction: column; gap: .75rem; max-width: 560px; }
input, select { font: inherit; padding: .3rem .45rem; border: 1px solid #8c959f; border-radius: 4px; }
input[type=text], input[type=password] { min-width: 16rem; }
button, .button { font: inherit; padding: .35rem .9rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; display: inline-block; }
button.danger, .button.danger { background: var(--bad); border-color: var(--bad); }
.button.secondary { background: #fff; color: var(--accent); }
.actions { display: flex; gap: .5rem; flex-wrap: wrap; margin: .5rem 0 1rem; }
.signin { max-width: 460px; margin: 3rem auto; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 1.25rem 1.5rem; }
.pager { display: flex; gap: 1rem; margin: .5rem 0; }
ol.timeline { list-style: none; padding: 0; margin: 0; border-left: 3px solid var(--line); }
ol.timeline li { padding: .3rem 0 .3rem 1rem; position: relative; }
ol.timeline .src { display: inline-block; min-width: 5.5rem; font-size: .8em; font-weight: 600; color: var(--muted); text-transform: uppercase; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: .5rem; background: #fff; padding: .3rem .6rem; z-index: 2; }
`;
