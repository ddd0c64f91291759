import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseReconcilerConfig } from '../../../../lib/reconciler/config/schema';

const ROOT = path.join(__dirname, '..', '..', '..', '..');

describe('docs/configuration.md', () => {
  it('shows the example configuration the tests parse', () => {
    // Prepare
    const doc = readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8');
    const example = /## Example[\s\S]*?```json\n([\s\S]*?)```/.exec(doc)?.[1];
    const fixture = readFileSync(path.join(ROOT, 'test', 'fixtures', 'config', 'full.json'), 'utf8');

    // Act
    const parsed = JSON.parse(example ?? 'null');

    // Assess
    expect(parsed).toEqual(JSON.parse(fixture));
    expect(() =>
      parseReconcilerConfig(parsed, { stage: 'prod', deploymentRegion: 'eu-west-1' }),
    ).not.toThrow();
  });
});
