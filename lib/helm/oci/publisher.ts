import type { ECRClient } from '@aws-sdk/client-ecr';
import type { ChartMetadata } from '../types';
import { chartArtifact, ociTag } from './artifact';
import { deleteEcrTag, ecrAuthorization, ensureEcrRepository } from './ecr';
import { OciRegistry, type PushOutcome } from './registry';

/**
 * Every chart of the repository also in an OCI registry (by default the account's ECR): repository
 * `<repositoryPrefix>/<chart name>`, tag = the version with `+` written `_`. The indexer calls it after
 * the index is written: a chart that is there already (same manifest) makes no push, a deleted chart's
 * tag is removed when `deleteTags` is on.
 */

export interface OciConfig {
  /** `<account>.dkr.ecr.<region>.amazonaws.com`, or any registry's `host[:port]`. */
  registry: string;
  repositoryPrefix: string;
  deleteTags: boolean;
  /** http instead of https (a registry on loopback in tests). */
  plainHttp: boolean;
}

export interface OciPublisher {
  publish(chart: { archive: Buffer; metadata: ChartMetadata; created: Date }): Promise<OciOutcome>;
  remove(chart: { name: string; version: string }): Promise<OciOutcome>;
}

export interface OciOutcome {
  reference: string;
  outcome: PushOutcome | 'deleted' | 'absent';
}

const ECR_HOST = /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

export function isEcrRegistry(registry: string): boolean {
  return ECR_HOST.test(registry);
}

export function createOciPublisher(options: {
  config: OciConfig;
  /** The ECR client of the registry's region: authentication and repository creation (ECR only). */
  ecr?: ECRClient;
  /** Tags of a repository this makes (the ownership tags). */
  repositoryTags?: Record<string, string>;
  fetch?: typeof fetch;
}): OciPublisher {
  const { config, ecr } = options;
  const registry = new OciRegistry({
    baseUrl: `${config.plainHttp ? 'http' : 'https'}://${config.registry}`,
    ...(ecr ? { authorization: ecrAuthorization(ecr) } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const known = new Set<string>();
  const repositoryOf = (name: string) => `${config.repositoryPrefix}/${name}`;
  return {
    async publish({ archive, metadata, created }) {
      const repository = repositoryOf(metadata.name);
      if (ecr && !known.has(repository)) {
        await ensureEcrRepository(ecr, repository, options.repositoryTags ?? {});
        known.add(repository);
      }
      const artifact = chartArtifact(archive, metadata, created);
      const outcome = await registry.pushChart(repository, artifact);
      return { reference: `${config.registry}/${repository}:${artifact.tag}`, outcome };
    },
    async remove({ name, version }) {
      const repository = repositoryOf(name);
      const tag = ociTag(version);
      const outcome = ecr
        ? await deleteEcrTag(ecr, repository, tag)
        : await registry.deleteTag(repository, tag);
      return { reference: `${config.registry}/${repository}:${tag}`, outcome };
    },
  };
}
