/**
 * The index as `helm repo index --json` writes it: Go's json.MarshalIndent(index, "", "  ") with no
 * trailing newline (go-json.ts writes it as encoding/json does). helm 3.13 and later read such an index
 * several times faster than YAML.
 */

import type { IndexFile } from '../types';
import type { GoValue } from '../yaml/go-yaml';
import { GoJsonWriter, sortedKeys } from './go-json';
import { isNilEntries } from './index-file';

export { goJsonNumber, quote } from './go-json';

export function serializeIndexJson(index: IndexFile): string {
  const json = new GoJsonWriter('  ');
  // IndexFile's fields in Go's order; the omitempty ones only when not empty.
  const writers = new Map<string, (depth: number) => void>();
  if (index.serverInfo !== undefined && Object.keys(index.serverInfo).length > 0) {
    writers.set('serverInfo', (depth) => json.value(index.serverInfo as GoValue, depth));
  }
  writers.set('apiVersion', (depth) => json.value(index.apiVersion, depth));
  writers.set('generated', (depth) => json.value(index.generated, depth));
  writers.set('entries', (depth) =>
    isNilEntries(index) ? json.raw('null') : writeEntries(json, index.entries, depth),
  );
  if (index.publicKeys !== undefined && index.publicKeys.length > 0) {
    writers.set('publicKeys', (depth) => json.value(index.publicKeys as GoValue, depth));
  }
  if (index.annotations !== undefined && Object.keys(index.annotations).length > 0) {
    writers.set('annotations', (depth) => json.value(index.annotations as GoValue, depth));
  }
  json.object([...writers.keys()], 0, (key, depth) => writers.get(key)?.(depth));
  return json.text();
}

function writeEntries(json: GoJsonWriter, entries: IndexFile['entries'], depth: number): void {
  json.object(sortedKeys(entries), depth, (name, at) => {
    const versions = entries[name];
    if (versions === null || versions === undefined) json.raw('null');
    else json.list(versions, at, (entry, inner) => json.struct('ChartVersion', entry, inner));
  });
}
