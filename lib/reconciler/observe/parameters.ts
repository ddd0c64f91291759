import { paginateGetParametersByPath } from '@aws-sdk/client-ssm';
import { describeError, toAwsCallError } from '../../errors';
import { mapSettled } from '../../util/concurrency';
import { publishedParameterRoot } from '../config/naming';
import type { ReconcilerDeps } from '../deps';
import type { PublishedParameter, ReconcilerConfig } from '../types';

/** SSM's largest GetParametersByPath page. */
export const PARAMETERS_PAGE_SIZE = 10;

/**
 * The role ARNs this stage published, per scanned region (only with `publishRoleArns`). A region whose
 * read fails is undefined: nothing is put or deleted there this run.
 */
export async function observeParameters(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
): Promise<Map<string, PublishedParameter[] | undefined> | undefined> {
  if (!config.publishRoleArns) return undefined;
  return readUnder(deps, config, config.regions, publishedParameterRoot(config.stage));
}

/** One cluster's published ARNs only (its own folder): what a single-cluster run compares. */
export async function observeClusterParameters(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
  region: string,
  clusterName: string,
): Promise<Map<string, PublishedParameter[] | undefined> | undefined> {
  if (!config.publishRoleArns) return undefined;
  return readUnder(deps, config, [region], `${publishedParameterRoot(config.stage)}${clusterName}`);
}

async function readUnder(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
  regions: readonly string[],
  path: string,
): Promise<Map<string, PublishedParameter[] | undefined>> {
  const read = await mapSettled([...regions], config.concurrency, async (region) => {
    const found: PublishedParameter[] = [];
    try {
      const pages = paginateGetParametersByPath(
        { client: deps.clients.ssm(region), pageSize: PARAMETERS_PAGE_SIZE },
        { Path: path, Recursive: true },
      );
      for await (const page of pages) {
        for (const parameter of page.Parameters ?? []) {
          found.push({ region, name: parameter.Name ?? '', value: parameter.Value ?? '' });
        }
      }
    } catch (error) {
      throw toAwsCallError(`SSM GetParametersByPath ${path} in ${region}`, error);
    }
    return found;
  });
  const result = new Map<string, PublishedParameter[] | undefined>();
  regions.forEach((region, index) => {
    const outcome = read[index];
    if (outcome?.status === 'fulfilled') {
      result.set(region, outcome.value);
    } else {
      deps.logger.warn('published role ARNs could not be read: none changes there this run', {
        region,
        error: describeError(outcome?.reason),
      });
      result.set(region, undefined);
    }
  });
  return result;
}
