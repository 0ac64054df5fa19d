import { describe, expect, it } from 'vitest';
import { renderTemplate } from './template';

describe('renderTemplate', () => {
  it('fills known placeholders and leaves unknown ones as written', () => {
    expect(
      renderTemplate('{{alert_name}}: {{ metric }} {{op}} {{threshold}} ({{value}}) {{nope}}', {
        alert_name: 'Traffic spike',
        metric: 'visitors',
        op: 'above',
        threshold: 100,
        value: 142,
      }),
    ).toBe('Traffic spike: visitors above 100 (142) {{nope}}');
  });

  it('does not treat values as templates', () => {
    expect(renderTemplate('{{goal_name}}', { goal_name: '{{site_domain}}', site_domain: 'x' })).toBe(
      '{{site_domain}}',
    );
  });
});
