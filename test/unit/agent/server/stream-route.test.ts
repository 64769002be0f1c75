import { describe, expect, test } from 'vitest';
import { streamRoute } from '../../../../agent/server/routes/streaming.js';

describe('streamRoute', () => {
  test.each([
    ['/exec/default/web/app', { kind: 'exec', target: { namespace: 'default', pod: 'web', container: 'app' } }],
    ['/exec/default/web/uid-1/app', { kind: 'exec', target: { namespace: 'default', pod: 'web', uid: 'uid-1', container: 'app' } }],
    ['/attach/kube-system/dns/main', { kind: 'attach', target: { namespace: 'kube-system', pod: 'dns', container: 'main' } }],
    ['/portForward/default/web', { kind: 'portForward', target: { namespace: 'default', pod: 'web' } }],
    ['/portForward/default/web/uid-1', { kind: 'portForward', target: { namespace: 'default', pod: 'web', uid: 'uid-1' } }],
    ['/exec/default/web%2Dx/app', { kind: 'exec', target: { namespace: 'default', pod: 'web-x', container: 'app' } }],
  ])('%s', (path, route) => {
    expect(streamRoute(path)).toEqual(route);
  });

  test.each(['/exec/default/web', '/exec/default/web/a/b/c', '/exec//web/app', '/portForward/default', '/pods', '/attach/default/web/uid/app/extra', '/run/default/web/app', '/exec/default/%E0%A4%A/app'])(
    '%s is no streaming route',
    (path) => {
      expect(streamRoute(path)).toBeUndefined();
    },
  );
});
