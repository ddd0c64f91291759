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
import { DescribeRepositoriesCommand, GetLifecyclePolicyCommand, PutImageCommand } from '@aws-sdk/client-ecr';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createAwsClients } from '../../lib/aws/clients';
import { readChartArchive } from '../../lib/helm/chart/chart';
import { parseIndexerConfig } from '../../lib/helm/config';
import { chartArtifact, MANIFEST_MEDIA_TYPE, ociTag } from '../../lib/helm/oci/artifact';
import { deleteEcrTag, ecrAuthorization, ensureEcrRepository } from '../../lib/helm/oci/ecr';
import { createOciPublisher } from '../../lib/helm/oci/publisher';
import { OciRegistry } from '../../lib/helm/oci/registry';
import { handleS3Event } from '../../lib/helm/reindexer';
import { silentLogger } from '../../lib/observability/logger';
import { helmEnv } from '../../scripts/demo-helm';
import { EMULATOR_CREDENTIALS, HELM_BIN, type MotoServer, startMotoServer } from '../support/moto-server';
import { type OciRegistryServer, startOciRegistry } from '../support/oci-registry';
import { s3Event } from '../unit/helm/events';

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

describe('the indexer publishing to a registry on S3 events, and ECR as the registry (moto)', () => {
  let registry: OciRegistryServer;
  let moto: MotoServer;
  let work: string;
  const BUCKET = 'oci-charts';
  const helm = async (...args: string[]) =>
    (await run(HELM_BIN, args, { env: helmEnv(work), cwd: work })).stdout;

  beforeAll(async () => {
    registry = await startOciRegistry();
    moto = await startMotoServer();
    work = mkdtempSync(join(tmpdir(), 'oci-events-'));
  });

  afterAll(async () => {
    await registry?.stop();
    await moto?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('pushes a chart uploaded to the bucket, makes no push on a redelivery, and untags it when its .tgz is deleted', async () => {
    // Prepare
    const clients = createAwsClients({
      region: 'eu-west-1',
      endpoint: moto.endpoint,
      credentials: EMULATOR_CREDENTIALS,
    });
    await clients.s3.send(
      new CreateBucketCommand({
        Bucket: BUCKET,
        CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
      }),
    );
    const config = parseIndexerConfig({
      bucket: BUCKET,
      ociRegistry: registry.host,
      ociRepositoryPrefix: 'helm',
      ociPlainHttp: true,
    });
    const oci = config.oci ? createOciPublisher({ config: config.oci }) : undefined;
    const deps = { s3: clients.s3, config, logger: silentLogger, ...(oci ? { oci } : {}) };
    const dir = join(work, 'agent');
    mkdirSync(join(dir, 'templates'), { recursive: true });
    writeFileSync(join(dir, 'Chart.yaml'), 'apiVersion: v2\nname: agent\nversion: 0.3.0\n');
    writeFileSync(
      join(dir, 'templates', 'cm.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: agent\n',
    );
    await helm('package', dir, '--destination', work);
    const archive = readFileSync(join(work, 'agent-0.3.0.tgz'));
    await clients.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'charts/agent-0.3.0.tgz', Body: archive }),
    );
    const created = s3Event([{ bucket: BUCKET, key: 'charts/agent-0.3.0.tgz' }]);

    // Act
    const first = await handleS3Event(deps, created);
    const redelivered = await handleS3Event(deps, created);
    const pulled = join(work, 'pulled');
    mkdirSync(pulled, { recursive: true });
    await helm(
      'pull',
      `oci://${registry.host}/helm/agent`,
      '--version',
      '0.3.0',
      '--plain-http',
      '--destination',
      pulled,
    );
    // What `helm install oci://…` does up to the cluster: fetch the chart from the registry and render it.
    const rendered = await helm(
      'template',
      'agent',
      `oci://${registry.host}/helm/agent`,
      '--version',
      '0.3.0',
      '--plain-http',
    );
    await clients.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'charts/agent-0.3.0.tgz' }));
    const deleted = await handleS3Event(
      deps,
      s3Event([{ bucket: BUCKET, key: 'charts/agent-0.3.0.tgz', kind: 'removed' }]),
    );

    // Assess
    const reference = `${registry.host}/helm/agent:0.3.0`;
    expect(first.oci).toEqual({ pushed: [reference], unchanged: [], untagged: [] });
    expect(redelivered.oci).toEqual({ pushed: [], unchanged: [reference], untagged: [] });
    expect(
      createHash('sha256')
        .update(readFileSync(join(pulled, 'agent-0.3.0.tgz')))
        .digest('hex'),
    ).toBe(createHash('sha256').update(archive).digest('hex'));
    expect(rendered).toContain('kind: ConfigMap');
    expect(deleted.oci).toEqual({ pushed: [], unchanged: [], untagged: [reference] });
    expect(
      await new OciRegistry({ baseUrl: registry.endpoint }).manifestDigest('helm/agent', '0.3.0'),
    ).toBeUndefined();
  });

  it('makes the ECR repository on first use (immutable tags, scan on push, encryption, lifecycle) and reads a token', async () => {
    // Prepare
    const ecr = createAwsClients({
      region: 'eu-west-1',
      endpoint: moto.endpoint,
      credentials: EMULATOR_CREDENTIALS,
    }).ecr('eu-west-1');

    // Act
    const first = await ensureEcrRepository(ecr, 'helm/agent', {
      'irsa-reconciler/managed-by': 'irsa-reconciler',
    });
    const second = await ensureEcrRepository(ecr, 'helm/agent', {});
    const header = await ecrAuthorization(ecr)();

    // Assess
    expect([first, second]).toEqual(['created', 'exists']);
    const { repositories } = await ecr.send(
      new DescribeRepositoriesCommand({ repositoryNames: ['helm/agent'] }),
    );
    expect(repositories?.[0]).toMatchObject({
      imageTagMutability: 'IMMUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfiguration: { encryptionType: 'AES256' },
    });
    const { lifecyclePolicyText } = await ecr.send(
      new GetLifecyclePolicyCommand({ repositoryName: 'helm/agent' }),
    );
    expect(JSON.parse(lifecyclePolicyText ?? '{}').rules[0].selection).toMatchObject({
      tagStatus: 'untagged',
    });
    expect(header).toMatch(/^Basic [A-Za-z0-9+/=]+$/);
  });

  it('untags an ECR image with BatchDeleteImage; a missing tag or repository is already untagged', async () => {
    // Prepare: an image tagged 1.0.0 in helm/untag
    const ecr = createAwsClients({
      region: 'eu-west-1',
      endpoint: moto.endpoint,
      credentials: EMULATOR_CREDENTIALS,
    }).ecr('eu-west-1');
    await ensureEcrRepository(ecr, 'helm/untag', {});
    const file = join(work, 'untag.tgz');
    writeFileSync(file, 'not a chart: the image only needs a manifest');
    const artifact = chartArtifact(
      readFileSync(file),
      { apiVersion: 'v2', name: 'untag', version: '1.0.0' },
      CREATED,
    );
    await ecr.send(
      new PutImageCommand({
        repositoryName: 'helm/untag',
        imageTag: artifact.tag,
        imageManifest: artifact.manifest.bytes.toString('utf8'),
        imageManifestMediaType: MANIFEST_MEDIA_TYPE,
      }),
    );

    // Act / Assess
    expect(await deleteEcrTag(ecr, 'helm/untag', '1.0.0')).toBe('deleted');
    expect(await deleteEcrTag(ecr, 'helm/untag', '1.0.0')).toBe('absent');
    expect(await deleteEcrTag(ecr, 'helm/nothing-here', '1.0.0')).toBe('absent');
  });
});
