import {
  compareGoYamlKeys,
  emitGoYaml,
  formatGoFloat,
  resolvePlain,
} from '../../../../lib/helm/yaml/go-yaml';
import { parseGoYaml } from '../../../../lib/helm/yaml/go-yaml-parse';

/** One `key: value` line as yaml.v2 writes it at the top level. */
const line = (value: string) => emitGoYaml({ k: value });

describe('emitGoYaml', () => {
  // Expected texts are what `helm repo index` (v3.21, yaml.v2 underneath) wrote for these values.
  it.each([
    ['1.16.0', 'k: 1.16.0\n'],
    ['1.0', 'k: "1.0"\n'],
    ['123', 'k: "123"\n'],
    ['true', 'k: "true"\n'],
    ['on', 'k: "on"\n'],
    ['yes', 'k: "yes"\n'],
    ['null', 'k: "null"\n'],
    ['', 'k: ""\n'],
    ['2024-01-02', 'k: "2024-01-02"\n'],
    ['2026-11-22T22:43:16.358183786Z', 'k: "2026-11-22T22:43:16.358183786Z"\n'],
    ['-x', 'k: -x\n'],
    ['>=1.22.0-0', "k: '>=1.22.0-0'\n"],
    ['@stable', "k: '@stable'\n"],
    [': a', "k: ': a'\n"],
    ['#tag', "k: '#tag'\n"],
    ['a: b', "k: 'a: b'\n"],
    ['with trailing space ', "k: 'with trailing space '\n"],
    ["it's", "k: it's\n"],
    ['a\tb', 'k: "a\\tb"\n'],
    ['Jöhn Dœ 😀', 'k: "Jöhn Dœ \\U0001F600"\n'],
    ['https://example.com/a?b=c', 'k: https://example.com/a?b=c\n'],
    ['x:', "k: 'x:'\n"],
    ['---', "k: '---'\n"],
    ['? x', "k: '? x'\n"],
    ['a #b', "k: 'a #b'\n"],
    [' ', "k: ' '\n"],
    ['a\r\nb', 'k: "a\\r\\nb"\n'],
    ['\uFEFFbom', 'k: "\\uFEFF\\x62\\x6F\\x6D"\n'],
  ])('writes %j as yaml.v2 does', (value, expected) => {
    expect(line(value)).toBe(expected);
  });

  it('folds long plain and quoted scalars after column 80, indented under their key', () => {
    // Prepare
    const words =
      'A very long multi-line description that goes on and on past the eighty column limit of the emitter';

    // Act
    const plain = emitGoYaml({ description: words });
    const quoted = emitGoYaml({ description: `${words}: yes` });

    // Assess
    expect(plain).toBe(
      'description: A very long multi-line description that goes on and on past the eighty\n  column limit of the emitter\n',
    );
    expect(quoted).toBe(
      "description: 'A very long multi-line description that goes on and on past the eighty\n  column limit of the emitter: yes'\n",
    );
  });

  it('writes strings with line breaks as literal blocks with the chomping yaml.v2 picks', () => {
    expect(emitGoYaml({ a: 'x\ny\n' })).toBe('a: |\n  x\n  y\n');
    expect(emitGoYaml({ a: 'x\ny' })).toBe('a: |-\n  x\n  y\n');
    expect(emitGoYaml({ a: 'x\n\n' })).toBe('a: |+\n  x\n\n');
    expect(emitGoYaml({ a: ' x\n' })).toBe('a: |2\n   x\n');
    expect(emitGoYaml({ a: 'x \ny' })).toBe('a: "x \\ny"\n');
  });

  it('writes sequences unindented under their key and mappings in sequences inline with the dash', () => {
    expect(emitGoYaml({ list: [{ b: 1, a: 'x' }, 'y'], empty: [], map: {} })).toBe(
      'empty: []\nlist:\n- a: x\n  b: 1\n- "y"\nmap: {}\n',
    );
  });

  it('reads back what it writes for awkward strings', () => {
    // Prepare
    const values = [
      '',
      ' ',
      '\uFEFFbom',
      '\u0085',
      'a\r\nb',
      '"\'\\',
      '- x',
      '? x',
      '---',
      '...',
      'a #b',
      'x:',
    ];

    // Act
    const parsed = parseGoYaml(emitGoYaml({ values }), { strict: true, maxNodes: 1000 });

    // Assess
    expect(parsed).toEqual({
      kind: 'map',
      entries: [['values', { kind: 'seq', items: values }]],
    });
  });
});

describe('compareGoYamlKeys', () => {
  it('orders keys as yaml.v2 does: digit runs numerically, letters before other characters', () => {
    // Prepare: the order of the keys in an entry and its annotations as helm wrote them
    const helmOrder = [
      '1',
      '2',
      '10',
      'apiVersion',
      'appVersion',
      'artifacthub.io/changes',
      'created',
      'deprecated',
      'description',
      'import-values',
      'kubeVersion',
      'urls',
    ];

    // Act
    const sorted = [...helmOrder].reverse().sort(compareGoYamlKeys);

    // Assess
    expect(sorted).toEqual(helmOrder);
    expect(['ab', 'a10', 'a9', 'a-b'].sort(compareGoYamlKeys)).toEqual(['a-b', 'a9', 'a10', 'ab']);
  });
});

describe('formatGoFloat', () => {
  it.each([
    [1, 32, '1'],
    [1.1, 32, '1.1'],
    [1.2345678, 32, '1.2345678'],
    [16777217, 32, '1.6777216e+07'],
    [1e6, 32, '1e+06'],
    [123456789, 32, '1.2345679e+08'],
    [0.0001, 64, '0.0001'],
    [0.00001, 64, '1e-05'],
    [1.5, 64, '1.5'],
    [1e21, 64, '1e+21'],
    [-2.5, 64, '-2.5'],
    // float64 values beyond float32's range: Go converts first, so they print as ±Inf
    [1e39, 32, '+Inf'],
    [-1e39, 32, '-Inf'],
    [3.4028234663852886e38, 32, '3.4028235e+38'],
    [1e39, 64, '1e+39'],
  ] as const)('formats %d (float%d) as %s', (value, bits, expected) => {
    expect(formatGoFloat(value, bits)).toBe(expected);
  });
});

describe('resolvePlain', () => {
  it.each([
    ['y', 'bool'],
    ['Off', 'bool'],
    ['~', 'null'],
    ['0x1F', 'int'],
    ['017', 'int'],
    ['1_000', 'int'],
    ['.5', 'float'],
    ['1e3', 'float'],
    ['.inf', 'float'],
    ['2024-02-29', 'timestamp'],
    ['2023-02-29', 'str'],
    ['1.2.3', 'str'],
    ['v1', 'str'],
  ])('reads %s as %s', (text, tag) => {
    expect(resolvePlain(text).tag).toBe(tag);
  });
});
