import { bootstrapApplication } from '@angular/platform-browser';
import { App } from './app/app';
import { appConfig } from './app/app.config';

bootstrapApplication(App, appConfig)
  .then((appRef) => {
    // `?e2e` exposes two hooks for the Playwright test (test/examples/angular.test.ts).
    if (new URLSearchParams(location.search).has('e2e')) {
      Object.assign(window, { rxtetherExample: { whenStable: () => appRef.whenStable(), destroy: () => appRef.destroy() } });
    }
  })
  .catch((error: unknown) => console.error(error));
