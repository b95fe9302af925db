// `npm run demo`: wallet-oidc on http://localhost:3000 (PORT) and the demo relying party on
// http://localhost:3001 (DEMO_PORT) in one process, until Ctrl-C. See demo/index.ts and demo/rp.ts.
import { readEnvironment } from '../src/env.ts';
import { describeFatal } from '../src/errors.ts';
import { startDemo } from './index.ts';

try {
  const demo = await startDemo(readEnvironment());
  console.log(`\nwallet-oidc demo: open ${demo.rpUrl} and click "Log in with wallet" (wallet-oidc is at ${demo.issuer}; Ctrl-C stops both)\n`);
  const shutdown = () => {
    console.log('wallet-oidc demo: stopping');
    setTimeout(() => process.exit(1), 10_000).unref();
    demo.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('wallet-oidc demo: could not stop cleanly:', err);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
} catch (err) {
  const { message, exitCode } = describeFatal(err);
  console.error(`wallet-oidc demo: ${message}`);
  process.exit(exitCode);
}
