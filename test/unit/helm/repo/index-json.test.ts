import { parseIndex } from '../../../../lib/helm/repo/index-file';
import { goJsonNumber, quote, serializeIndexJson } from '../../../../lib/helm/repo/index-json';
import type { IndexFile } from '../../../../lib/helm/types';

describe('quote (encoding/json strings)', () => {
  it.each([
    ['plain', '"plain"'],
    ['<a> & "b" \\ c', '"\\u003ca\\u003e \\u0026 \\"b\\" \\\\ c"'],
    ['tab\there\nnew\rret', '"tab\\there\\nnew\\rret"'],
    ['\b\f', '"\\b\\f"'],
    ['\u0001\u001f', '"\\u0001\\u001f"'],
    ['line\u2028para\u2029', '"line\\u2028para\\u2029"'],
    ['Ünïcödé 😀 \u007f', '"Ünïcödé 😀 \u007f"'],
    ['lone \ud800 high', '"lone \\ufffd high"'],
    ['lone \udc00 low', '"lone \\ufffd low"'],
  ])('writes %j as Go does', (text, expected) => {
    expect(quote(text)).toBe(expected);
  });
});

describe('goJsonNumber (encoding/json float64)', () => {
  it.each([
    [1.5, '1.5'],
    [3, '3'],
    [1e20, '100000000000000000000'],
    [1e21, '1e+21'],
    [0.000001, '0.000001'],
    [1e-7, '1e-7'],
    [1.5e-7, '1.5e-7'],
    [-0, '-0'],
    [1e100, '1e+100'],
  ])('writes %d as %s', (value, expected) => {
    expect(goJsonNumber(value)).toBe(expected);
  });

  it('refuses what encoding/json refuses', () => {
    expect(() => goJsonNumber(Number.NaN)).toThrow('unsupported value');
  });
});

describe('serializeIndexJson', () => {
  const index: IndexFile = {
    apiVersion: 'v1',
    generated: '2026-01-02T03:04:05Z',
    entries: {
      zeta: null,
      alpha: [
        {
          version: '1.0.0',
          name: 'alpha',
          apiVersion: 'v2',
          urls: null,
          created: '2026-01-02T03:04:05Z',
          digest: 'd',
          annotations: { z: '1', a: '2' },
          maintainers: [null, { email: 'e', name: 'n' }],
          dependencies: [{ name: 'sub', repository: '', 'import-values': [1.5, { b: 1, a: [] }] }],
        },
      ],
    },
  };

  it('writes fields in Go’s declaration order, map keys sorted, nil lists as null, no trailing newline', () => {
    expect(serializeIndexJson(index)).toBe(
      [
        '{',
        '  "apiVersion": "v1",',
        '  "generated": "2026-01-02T03:04:05Z",',
        '  "entries": {',
        '    "alpha": [',
        '      {',
        '        "name": "alpha",',
        '        "version": "1.0.0",',
        '        "maintainers": [',
        '          null,',
        '          {',
        '            "name": "n",',
        '            "email": "e"',
        '          }',
        '        ],',
        '        "apiVersion": "v2",',
        '        "annotations": {',
        '          "a": "2",',
        '          "z": "1"',
        '        },',
        '        "dependencies": [',
        '          {',
        '            "name": "sub",',
        '            "repository": "",',
        '            "import-values": [',
        '              1.5,',
        '              {',
        '                "a": [],',
        '                "b": 1',
        '              }',
        '            ]',
        '          }',
        '        ],',
        '        "urls": null,',
        '        "created": "2026-01-02T03:04:05Z",',
        '        "digest": "d"',
        '      }',
        '    ],',
        '    "zeta": null',
        '  }',
        '}',
      ].join('\n'),
    );
  });

  it('reads back to the same index', () => {
    // helm drops an entry whose maintainers hold a null, so the round trip uses a valid one
    const [entry] = index.entries.alpha ?? [];
    const valid: IndexFile = {
      ...index,
      entries: {
        ...index.entries,
        alpha: [{ ...(entry as NonNullable<typeof entry>), maintainers: [{ name: 'n' }] }],
      },
    };
    const text = serializeIndexJson(valid);
    expect(text).toContain('"name": "alpha"');
    expect(serializeIndexJson(parseIndex(text))).toBe(text);
  });

  it('writes an index without entries as {}', () => {
    expect(serializeIndexJson({ apiVersion: 'v1', generated: 'g', entries: {} })).toBe(
      '{\n  "apiVersion": "v1",\n  "generated": "g",\n  "entries": {}\n}',
    );
  });
});
