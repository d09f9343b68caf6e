// `node --import <this file>`: registers source-hooks.mjs (see there) for the whole process.
import { register } from 'node:module';

register('./source-hooks.mjs', import.meta.url);
