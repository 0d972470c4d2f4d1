import { formatLabelSelector, matchesLabels, parseLabelSelector } from '../src/label-selector';

describe('parseLabelSelector', () => {
  test('reads k=v pairs, with prefixed keys, spaces and == tolerated', () => {
    expect(parseLabelSelector('app.kubernetes.io/name=taskmaster, app.kubernetes.io/component==worker')).toEqual({
      labels: { 'app.kubernetes.io/name': 'taskmaster', 'app.kubernetes.io/component': 'worker' },
    });
    expect(parseLabelSelector('tier=')).toEqual({ labels: { tier: '' } });
  });

  test.each([
    ['', /at least one label/],
    [' , ', /at least one label/],
    ['app', /not key=value/],
    ['app!=worker', /not key=value/],
    ['app in (a,b)', /not key=value/],
    ['-app=worker', /not a valid label key/],
    ['Example.COM/app=worker', /not a valid label key/],
    ['app=worker!', /not a valid label value/],
    [`app=${'x'.repeat(64)}`, /not a valid label value/],
    ['app=a,app=b', /given twice/],
  ])('refuses %j', (text, problem) => {
    const result = parseLabelSelector(text);
    expect('problem' in result && result.problem).toMatch(problem);
  });
});

describe('formatLabelSelector and matchesLabels', () => {
  const selector = { 'app.kubernetes.io/name': 'taskmaster', 'app.kubernetes.io/component': 'worker' };

  test('formats keys sorted, as the API takes labelSelector', () => {
    expect(formatLabelSelector(selector)).toBe('app.kubernetes.io/component=worker,app.kubernetes.io/name=taskmaster');
  });

  test('matches only objects carrying every label with the same value', () => {
    expect(matchesLabels(selector, { ...selector, 'pod-template-hash': 'abc' })).toBe(true);
    expect(matchesLabels(selector, { 'app.kubernetes.io/name': 'taskmaster' })).toBe(false);
    expect(matchesLabels(selector, { ...selector, 'app.kubernetes.io/component': 'coordinator' })).toBe(false);
    expect(matchesLabels(selector, undefined)).toBe(false);
  });
});
