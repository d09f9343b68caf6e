import { libraryConfig } from '../../tsup.shared.js';

export default libraryConfig({
  entry: ['src/index.ts', 'src/internal.ts'],
  // What both entries use goes into shared chunks (CJS too), so that a class such as
  // DocketError exists once and instanceof holds whichever entry created it.
  splitting: true,
});
