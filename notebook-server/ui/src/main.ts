// Entry: token, the live event stream, and hash routes
// (#/ experiments, #/s/<session id> notebook, #/catalog).
import { events, initToken } from './api.ts';
import { h } from './dom.ts';
import './style.css';
import { catalogView } from './views/catalog.ts';
import { experimentsView } from './views/experiments.ts';
import { notebookView } from './views/notebook.ts';

const app = document.getElementById('app') as HTMLElement;
const conn = document.getElementById('conn') as HTMLElement;

let teardown: () => void = () => {};

function route(): void {
  teardown();
  const hash = location.hash.replace(/^#/, '') || '/';
  const m = /^\/s\/([^/]+)$/.exec(hash);
  if (m) teardown = notebookView(app, decodeURIComponent(m[1] as string));
  else if (hash === '/catalog') teardown = catalogView(app);
  else teardown = experimentsView(app);
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', a.getAttribute('href') === `#${hash}`);
  }
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
