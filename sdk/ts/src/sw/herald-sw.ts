// dist/herald-sw.js: serve it from the site (default path /herald-sw.js)
// and pass its URL to webPushSource.
import { installHeraldServiceWorker, type WorkerScopeLike } from '../zpns/serviceWorker.js';

installHeraldServiceWorker(self as unknown as WorkerScopeLike);
