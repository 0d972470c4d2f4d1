/**
 * httpRoute: the dashboard and the API behind a Gateway API HTTPRoute, with the live log's server-sent event stream
 * on a rule of its own whose request timeout is off, and refused without an API token as the Ingress is.
 * chart-apiserver.test.ts dry-runs the ci/ and k8s/ files against the Gateway API's own CRDs.
 */
import { join } from 'node:path';
import { REPO_ROOT, ciValues, findObject, renderChart, renderFailure } from '../helpers/helm';

const backend = [{ name: 'tm-taskmaster-scheduler', port: 8081 }];

describe('HTTPRoute', () => {
  it('is not rendered unless asked for', () => {
    expect(renderChart().some((object) => object.kind === 'HTTPRoute')).toBe(false);
  });

  it('attaches to the Gateway, and gives the live log a rule without a request timeout', () => {
    const route = findObject(renderChart({ valuesFiles: [ciValues('gateway-api')] }), 'HTTPRoute', 'tm-taskmaster-scheduler');
    expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(route.spec).toEqual({
      parentRefs: [{ name: 'shared-gateway', namespace: 'gateway-system', sectionName: 'https' }],
      hostnames: ['taskmaster.example.com'],
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/api/logs/stream' } }], backendRefs: backend, timeouts: { request: '0s' } },
        { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: backend, timeouts: { request: '60s' } },
      ],
    });
  });

  it('leaves the ordinary rule to the gateway\'s default timeout unless one is set, and follows the Service port', () => {
    const route = findObject(renderChart({ set: {
      'httpRoute.enabled': true, 'httpRoute.parentRefs[0].name': 'gw', 'scheduler.auth.apiToken': 'a-token-of-sixteen', 'scheduler.service.port': 80,
    } }), 'HTTPRoute', 'tm-taskmaster-scheduler');
    expect(route.spec.hostnames).toBeUndefined();
    expect(route.spec.rules.map((rule: { timeouts?: unknown }) => rule.timeouts)).toEqual([{ request: '0s' }, undefined]);
    expect(route.spec.rules[1].backendRefs).toEqual([{ name: 'tm-taskmaster-scheduler', port: 80 }]);
  });

  it('is refused without an API token, as the Ingress is, and without a Gateway to attach to', () => {
    const refusal = (set: Record<string, string>) => renderFailure({ set: { 'httpRoute.enabled': true, ...set } });
    expect(refusal({ 'httpRoute.parentRefs[0].name': 'gw' })).toContain('httpRoute.enabled needs an API token');
    expect(refusal({ 'scheduler.auth.tokensSecret': 'tokens' })).toContain('httpRoute.enabled needs httpRoute.parentRefs');
    expect(refusal({ 'httpRoute.parentRefs[0].name': 'gw', 'scheduler.auth.tokensSecret': 'tokens', 'httpRoute.timeouts.stream': 'forever' })).toContain('httpRoute.timeouts.stream');
  });

  it('is what the kind and minikube values use, on Contour\'s Gateway, with no Ingress', () => {
    for (const file of ['k8s/kind-values.yaml', 'k8s/minikube-values.yaml']) {
      const objects = renderChart({ valuesFiles: [join(REPO_ROOT, file)] });
      expect(findObject(objects, 'HTTPRoute', 'tm-taskmaster-scheduler').spec.parentRefs).toEqual([{ name: 'contour', namespace: 'projectcontour' }]);
      expect(objects.some((object) => object.kind === 'Ingress')).toBe(false);
    }
  });
});
