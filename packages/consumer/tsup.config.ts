import { libraryConfig } from '../../tsup.shared.js';

export default libraryConfig({
  // The sandbox's thread entry is plain JavaScript, started by path beside the bundle.
  entry: ['src/index.ts', 'src/sandbox-thread.mjs'],
  dts: { entry: 'src/index.ts' },
  shims: true,
});
