/**
 * Charts pushed to a real OCI registry as `helm push` pushes them: the real helm pulls what the indexer
 * pushed, and `helm push` of the same archive gives the same config, layer and manifest.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { readChartArchive } from '../../lib/helm/chart/chart';
import { chartArtifact, MANIFEST_MEDIA_TYPE, ociTag } from '../../lib/helm/oci/artifact';
import { OciRegistry } from '../../lib/helm/oci/registry';
import { helmEnv } from '../../scripts/demo-helm';
import { HELM_BIN } from '../support/moto-server';
import { type OciRegistryServer, startOciRegistry } from '../support/oci-registry';

const run = promisify(execFile);
const CREATED = new Date('2026-11-30T10:20:30Z');

const CHART_YAML = (version: string) => `apiVersion: v2
name: otel-agent
version: ${version}
description: "An agent <for> logs & traces"
home: https://example.com/otel-agent
sources:
  - https://github.com/example/otel-agent
maintainers:
  - name: Platform
    email: platform@example.com
  - name: SRE
keywords: [otel, logs]
appVersion: "0.110.0"
annotations:
  category: Observability
  org.opencontainers.image.title: not-this
`;

describe('OCI publishing against a real registry and the real helm', () => {
  let registry: OciRegistryServer;
  let client: OciRegistry;
  let work: string;
  const helm = async (...args: string[]) =>
    (await run(HELM_BIN, args, { env: helmEnv(work), cwd: work, maxBuffer: 1 << 24 })).stdout;

  /** A chart packaged by the real helm, its file time set to CREATED (helm push reads it as created). */
  async function packaged(version: string): Promise<string> {
    const dir = join(work, `src-${version}`, 'otel-agent');
    mkdirSync(join(dir, 'templates'), { recursive: true });
    writeFileSync(join(dir, 'Chart.yaml'), CHART_YAML(version));
    writeFileSync(join(dir, 'values.yaml'), 'replicas: 1\n');
    writeFileSync(
      join(dir, 'templates', 'cm.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n',
    );
    const out = join(work, `out-${version}`);
    mkdirSync(out, { recursive: true });
    await helm('package', dir, '--destination', out);
    const file = join(out, `otel-agent-${version}.tgz`);
    utimesSync(file, CREATED, CREATED);
    return file;
  }

  async function pushed(file: string, repository: string) {
    const archive = readFileSync(file);
    const chart = await readChartArchive(Readable.from([archive]));
    const artifact = chartArtifact(archive, chart.metadata, CREATED);
    return { artifact, outcome: await client.pushChart(repository, artifact) };
  }

  async function manifestOf(repository: string, tag: string): Promise<string> {
    const response = await fetch(`${registry.endpoint}/v2/${repository}/manifests/${tag}`, {
      headers: { accept: MANIFEST_MEDIA_TYPE },
    });
    expect(response.status).toBe(200);
    return response.text();
  }

  beforeAll(async () => {
    registry = await startOciRegistry();
    client = new OciRegistry({ baseUrl: registry.endpoint });
    work = mkdtempSync(join(tmpdir(), 'oci-publish-'));
  });

  afterAll(async () => {
    await registry?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it.each(['1.4.0', '2.0.0-rc.1+build.7'])(
    'pushes %s so that helm pulls the same archive and helm push makes the same artifact',
    async (version) => {
      // Prepare
      const file = await packaged(version);
      const digest = createHash('sha256').update(readFileSync(file)).digest('hex');

      // Act: the indexer's push, then helm's own push of the same file to another repository
      const { artifact, outcome } = await pushed(file, 'charts/otel-agent');
      await helm('push', file, `oci://${registry.host}/by-helm`, '--plain-http');
      const pulled = join(work, `pulled-${version}`);
      mkdirSync(pulled, { recursive: true });
      await helm(
        'pull',
        `oci://${registry.host}/charts/otel-agent`,
        '--version',
        version,
        '--plain-http',
        '--destination',
        pulled,
      );

      // Assess
      expect(outcome).toBe('pushed');
      expect(artifact.tag).toBe(ociTag(version));
      const pulledDigest = createHash('sha256')
        .update(readFileSync(join(pulled, `otel-agent-${version}.tgz`)))
        .digest('hex');
      expect(pulledDigest).toBe(digest);
      const ours = await manifestOf('charts/otel-agent', artifact.tag);
      const helms = await manifestOf('by-helm/otel-agent', artifact.tag);
      expect(ours).toBe(helms);
      expect(JSON.parse(ours)).toMatchObject({
        schemaVersion: 2,
        config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: artifact.config.digest },
        layers: [
          { mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: `sha256:${digest}` },
        ],
        annotations: {
          'org.opencontainers.image.created': '2026-11-30T10:20:30Z',
          'org.opencontainers.image.title': 'otel-agent',
          'org.opencontainers.image.authors': 'Platform (platform@example.com), SRE',
          category: 'Observability',
        },
      });
    },
  );

  it('makes no push when the tag already holds the same artifact (a redelivered event)', async () => {
    const file = await packaged('3.0.0');
    const first = await pushed(file, 'charts/otel-agent');
    const again = await pushed(file, 'charts/otel-agent');
    expect([first.outcome, again.outcome]).toEqual(['pushed', 'unchanged']);
  });

  it('removes a tag, after which helm cannot pull it; a missing tag is already removed', async () => {
    // Prepare
    const file = await packaged('4.0.0');
    await pushed(file, 'charts/otel-agent');

    // Act
    const removed = await client.deleteTag('charts/otel-agent', '4.0.0');
    const again = await client.deleteTag('charts/otel-agent', '4.0.0');

    // Assess
    expect([removed, again]).toEqual(['deleted', 'absent']);
    expect(await client.manifestDigest('charts/otel-agent', '4.0.0')).toBeUndefined();
    await expect(
      helm('pull', `oci://${registry.host}/charts/otel-agent`, '--version', '4.0.0', '--plain-http'),
    ).rejects.toThrow();
  });
});
