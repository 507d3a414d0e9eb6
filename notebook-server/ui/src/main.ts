// Entry: token, the live event stream, and hash routes
// (#/ experiments, #/s/<session id> notebook, #/models, #/m/<model> model page
// and form, #/plans, #/p/<plan> plan view, #/e/<experiment> results,
// #/containers, #/catalog).
import { events, initToken } from './api.ts';
import { h } from './dom.ts';
import './style.css';
import './workbench.css';
import { catalogView } from './views/catalog.ts';
import { containersView } from './views/containers.ts';
import { experimentsView } from './views/experiments.ts';
import { modelView } from './views/model.ts';
import { modelsView } from './views/models.ts';
import { notebookView } from './views/notebook.ts';
import { planView } from './views/plan.ts';
import { plansView } from './views/plans.ts';
import { resultsView } from './views/results.ts';

const ROUTES: [RegExp, (root: HTMLElement, id: string) => () => void][] = [
  [/^\/s\/([^/]+)$/, notebookView],
  [/^\/m\/([^/]+)$/, modelView],
  [/^\/p\/([^/]+)$/, planView],
  [/^\/e\/([^/]+)$/, resultsView],
];
const PAGES: Record<string, (root: HTMLElement) => () => void> = {
  '/models': modelsView,
  '/plans': plansView,
  '/containers': containersView,
  '/catalog': catalogView,
};

const app = document.getElementById('app') as HTMLElement;
const conn = document.getElementById('conn') as HTMLElement;

let teardown: () => void = () => {};

function route(): void {
  teardown();
  const hash = location.hash.replace(/^#/, '') || '/';
  const section = `/${hash.split('/')[1] ?? ''}`;
  const routed = ROUTES.find(([re]) => re.test(hash));
  if (routed) {
    const id = decodeURIComponent((routed[0].exec(hash) as RegExpExecArray)[1] as string);
    teardown = routed[1](app, id);
  } else teardown = (PAGES[hash] ?? experimentsView)(app);
  const owner: Record<string, string> = { '/m': '/models', '/p': '/plans', '/e': '/plans', '/s': '/' };
  const active = owner[section] ?? hash;
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', a.getAttribute('href') === `#${active}`);
  }
  window.scrollTo(0, 0);
}

if (!initToken()) {
  app.append(
    h('div', { class: 'error-banner' }, 'No token: open the link the server printed (it ends in ?token=…).'),
  );
} else {
  events.onStatus = (online) => {
    conn.textContent = online ? 'live' : 'offline';
    conn.classList.toggle('online', online);
    document.body.dataset.live = String(online);
  };
  events.start();
  window.addEventListener('hashchange', route);
  route();
}
