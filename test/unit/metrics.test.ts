// The metrics' labels stay bounded whatever the requests say: client ids past the cap share `other`,
// unknown reasons and methods are `other`, and two contexts' registries never share a series.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics, MAX_CLIENT_LABELS } from '../../src/metrics/metrics.ts';

const clock = () => new Date();

async function values(metrics: ReturnType<typeof createMetrics>, name: string) {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return (metric?.values ?? []) as unknown as Array<{ labels: Record<string, string>; value: number; metricName?: string }>;
}

describe('createMetrics', () => {
  it(`labels at most ${MAX_CLIENT_LABELS} client ids; the rest count as other`, async () => {
    const metrics = createMetrics(clock);
    for (let i = 0; i < MAX_CLIENT_LABELS + 5; i++) metrics.observer.login({ at: new Date(), outcome: 'success', clientId: `client-${i}` });
    const logins = await values(metrics, 'wallet_oidc_logins_total');
    assert.equal(logins.length, MAX_CLIENT_LABELS + 1);
    assert.equal(logins.find((v) => v.labels.client === 'other')?.value, 5);
  });

  it('labels an unknown reason and an unknown method as other', async () => {
    const metrics = createMetrics(clock);
    metrics.observer.login({ at: new Date(), outcome: 'refused', reason: 'made_up' });
    metrics.request('unmatched', 'BREW', 400, 0.001);
    assert.deepEqual((await values(metrics, 'wallet_oidc_logins_total'))[0]?.labels, { outcome: 'refused', reason: 'other', client: 'none' });
    const count = (await values(metrics, 'wallet_oidc_http_request_duration_seconds')).find((v) => v.metricName?.endsWith('_count'));
    assert.equal(count?.labels.method, 'other');
  });

  it('keeps two contexts apart', async () => {
    const a = createMetrics(clock);
    const b = createMetrics(clock);
    a.rateLimited('auth');
    assert.equal((await values(a, 'wallet_oidc_rate_limited_total'))[0]?.value, 1);
    assert.deepEqual(await values(b, 'wallet_oidc_rate_limited_total'), []);
  });
});
