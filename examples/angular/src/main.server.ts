import { type BootstrapContext, bootstrapApplication } from '@angular/platform-browser';
import { App } from './app/app';
import { serverConfig } from './app/app.config.server';

/** Bootstraps the app on the server (the `server` entry of angular.json's build). */
const bootstrap = (context: BootstrapContext) => bootstrapApplication(App, serverConfig, context);
export default bootstrap;

// The bundle's own renderApplication, for scripts/render.mjs: a copy of @angular/platform-server
// imported from node_modules would come with a second @angular/core, foreign to this bundle's.
export { renderApplication } from '@angular/platform-server';
