#!/usr/bin/env node
// The `ferry` command. Runs the TypeScript sources directly through tsx, so `npm ci` is all the set-up.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
