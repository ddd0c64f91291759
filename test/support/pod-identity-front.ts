import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { forwardRequest, sendUpstream } from './http-forward';
import { EMULATOR_ACCOUNT_ID, EMULATOR_CREDENTIALS } from './moto-server';

/**
 * A fake of the EKS calls moto 5.2.5 does not implement (it answers them 404), in front of the moto
 * server: the five Pod Identity association calls, the association tags, and the add-on calls the
 * reconciler uses (DescribeAddon, CreateAddon, ListAddons). Every other request goes to moto unchanged.
 *
 * It follows the EKS API model (restJson1, the shapes of the AWS SDK's EKS client) so that the SDK's
 * own serialisers and paginators drive it as they drive EKS:
 * - the cluster must exist in moto (asked with the caller's own request, so the region is the caller's):
 *   otherwise `ResourceNotFoundException` (404);
 * - CreatePodIdentityAssociation: `namespace`, `serviceAccount`, `roleArn` required, the role must exist
 *   in moto's IAM (`InvalidParameterException`, 400), one association per namespace and ServiceAccount
 *   (`ResourceInUseException`, 409), at most `maxAssociationsPerCluster` (EKS: 5,000, not raisable;
 *   `ResourceLimitExceededException`, 400); tags as given; ids `a-` + 17 characters;
 * - ListPodIdentityAssociations: summaries without role and tags, filters `namespace` and
 *   `serviceAccount`, `maxResults` 1–100 (default 100), an opaque `nextToken`;
 * - Describe/Update/Delete of an unknown id: `ResourceNotFoundException`;
 * - TagResource/UntagResource/ListTagsForResource on an association ARN;
 * - add-ons: created CREATING, ACTIVE from the next describe on; `ResourceInUseException` when it
 *   exists; `ResourceNotFoundException` for an unknown one.
 * IAM propagation can be simulated: a role is refused (as EKS refuses a role IAM has not propagated
 * yet) until `roleVisibleAfterMs` after the fake first saw it asked for.
 */

export interface PodIdentityAssociationRecord {
  region: string;
  clusterName: string;
  namespace: string;
  serviceAccount: string;
  roleArn: string;
  associationArn: string;
  associationId: string;
  tags: Record<string, string>;
  createdAt: number;
  modifiedAt: number;
}

export interface AddonRecord {
  region: string;
  clusterName: string;
  addonName: string;
  status: 'CREATING' | 'ACTIVE';
  addonArn: string;
  createdAt: number;
}

export interface PodIdentityFrontOptions {
  /** EKS's per-cluster quota (5,000); lower it to test the limit. */
  maxAssociationsPerCluster?: number;
  /** A role is refused until this long after the fake first saw it named (IAM propagation). */
  roleVisibleAfterMs?: number;
  /** Add-ons present from the start, as `region/cluster/addon`, ACTIVE. */
  addons?: string[];
  /**
   * Remember for this long that a cluster or role exists, instead of asking moto on every call (the
   * benchmark, whose fleet does not change while it runs; tests leave it 0 so a deletion is seen).
   */
  existenceCacheMs?: number;
  /**
   * DescribeCluster answers with these statuses first, one per call, then with moto's (ACTIVE): how a
   * test shows a cluster that is still CREATING, or DELETING, which moto cannot hold. By `region/name`.
   */
  clusterStatuses?: Record<string, string[]>;
}

export interface PodIdentityFront {
  endpoint: string;
  /** Every association, in creation order (for assertions; never a way around the API). */
  associations(): PodIdentityAssociationRecord[];
  addons(): AddonRecord[];
  /** Calls answered by the fake, by operation name. */
  calls: Record<string, number>;
  stop(): Promise<void>;
}

export const DEFAULT_MAX_ASSOCIATIONS_PER_CLUSTER = 5_000;
const ASSOCIATION_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startPodIdentityFront(
  motoEndpoint: string,
  options: PodIdentityFrontOptions = {},
): Promise<PodIdentityFront> {
  const upstream = new URL(motoEndpoint);
  const iam = new IAMClient({
    region: 'us-east-1',
    endpoint: motoEndpoint,
    credentials: EMULATOR_CREDENTIALS,
  });
  const associations = new Map<string, PodIdentityAssociationRecord>();
  const addons = new Map<string, AddonRecord>();
  const firstAsked = new Map<string, number>();
  const calls: Record<string, number> = {};
  const limit = options.maxAssociationsPerCluster ?? DEFAULT_MAX_ASSOCIATIONS_PER_CLUSTER;
  const now = () => Date.now() / 1000;
  for (const spec of options.addons ?? []) {
    const [region = '', clusterName = '', addonName = ''] = spec.split('/');
    addons.set(addonKey(region, clusterName, addonName), {
      region,
      clusterName,
      addonName,
      status: 'ACTIVE',
      addonArn: `arn:aws:eks:${region}:${EMULATOR_ACCOUNT_ID}:addon/${clusterName}/${addonName}/${randomId(8)}`,
      createdAt: now(),
    });
  }

  const count = (operation: string) => {
    calls[operation] = (calls[operation] ?? 0) + 1;
  };

  const seen = new Map<string, number>();
  const cached = (key: string) => (seen.get(key) ?? Number.NEGATIVE_INFINITY) > Date.now();
  const remember = (key: string) => {
    if (options.existenceCacheMs) seen.set(key, Date.now() + options.existenceCacheMs);
  };

  async function clusterExists(incoming: IncomingMessage, clusterName: string): Promise<boolean> {
    const region = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(String(incoming.headers.authorization))?.[1];
    const cacheKey = `cluster ${region} ${clusterName}`;
    if (cached(cacheKey)) return true;
    const probe = Object.assign(Object.create(incoming) as IncomingMessage, {
      method: 'GET',
      url: `/clusters/${encodeURIComponent(clusterName)}`,
      headers: { ...incoming.headers, 'content-length': '0' },
    });
    const status = await new Promise<number>((resolve, reject) => {
      const request = sendUpstream(upstream, probe, Buffer.alloc(0), (response) => {
        response.resume();
        resolve(response.statusCode ?? 500);
      });
      request.on('error', reject);
    });
    if (status === 200) {
      remember(cacheKey);
      return true;
    }
    if (status === 404) return false;
    throw new ApiError(500, 'ServerException', `moto answered DescribeCluster with ${status}`);
  }

  /** moto's DescribeCluster answer, asked with the caller's own request; a missing cluster is a 404. */
  async function describeFromMoto(incoming: IncomingMessage): Promise<{ cluster?: { status?: string } }> {
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const request = sendUpstream(upstream, incoming, Buffer.alloc(0), (response) => {
        const parts: Buffer[] = [];
        response.on('data', (part: Buffer) => parts.push(part));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 500, text: Buffer.concat(parts).toString('utf8') }),
        );
      });
      request.on('error', reject);
    });
    if (status === 404) throw new ApiError(404, 'ResourceNotFoundException', 'No cluster found');
    if (status !== 200)
      throw new ApiError(500, 'ServerException', `moto answered DescribeCluster with ${status}`);
    return JSON.parse(text) as { cluster?: { status?: string } };
  }

  async function checkRole(roleArn: string): Promise<void> {
    const match = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:[\x21-\x7e]*\/)?([\w+=,.@-]{1,64})$/.exec(roleArn);
    if (!match)
      throw new ApiError(400, 'InvalidParameterException', `roleArn ${roleArn} is not a valid role ARN`);
    const first = firstAsked.get(roleArn) ?? Date.now();
    firstAsked.set(roleArn, first);
    const exists =
      cached(`role ${roleArn}`) ||
      (await iam.send(new GetRoleCommand({ RoleName: match[2] })).then(
        (answer) => answer.Role?.Arn === roleArn,
        () => false,
      ));
    if (exists) remember(`role ${roleArn}`);
    if (!exists || Date.now() - first < (options.roleVisibleAfterMs ?? 0)) {
      throw new ApiError(
        400,
        'InvalidParameterException',
        `Role provided in the request does not exist: ${roleArn}`,
      );
    }
  }

  async function handle(incoming: IncomingMessage, body: Buffer): Promise<unknown | undefined> {
    const url = new URL(incoming.url ?? '/', 'http://fake');
    const path = url.pathname.split('/').map(decodeURIComponent);
    const method = incoming.method ?? 'GET';
    const region = /Credential=[^/]+\/\d{8}\/([^/]+)\/eks\//.exec(
      String(incoming.headers.authorization),
    )?.[1];
    if (region === undefined) return undefined;
    const input = body.length > 0 ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};

    // /tags/<arn> for association ARNs; cluster tags stay with moto.
    if (path[1] === 'tags' && path.slice(2).join('/').includes(':podidentityassociation/')) {
      const arn = path.slice(2).join('/');
      const record = [...associations.values()].find((item) => item.associationArn === arn);
      if (!record) throw new ApiError(404, 'NotFoundException', `Resource ${arn} not found`);
      if (method === 'GET') {
        count('ListTagsForResource');
        return { tags: record.tags };
      }
      if (method === 'POST') {
        count('TagResource');
        Object.assign(record.tags, validTags(input.tags));
        return {};
      }
      if (method === 'DELETE') {
        count('UntagResource');
        for (const key of url.searchParams.getAll('tagKeys')) delete record.tags[key];
        return {};
      }
    }
    if (path[1] !== 'clusters' || path[2] === undefined) return undefined;
    const clusterName = path[2];
    const pending = options.clusterStatuses?.[`${region}/${clusterName}`];
    if (method === 'GET' && path.length === 3 && pending && pending.length > 0) {
      const answer = await describeFromMoto(incoming);
      if (answer.cluster) answer.cluster.status = pending.shift();
      return answer;
    }

    if (path[3] === 'pod-identity-associations') {
      const id = path[4];
      const operation =
        id === undefined
          ? method === 'POST'
            ? 'CreatePodIdentityAssociation'
            : 'ListPodIdentityAssociations'
          : {
              GET: 'DescribePodIdentityAssociation',
              POST: 'UpdatePodIdentityAssociation',
              DELETE: 'DeletePodIdentityAssociation',
            }[method];
      if (operation === undefined || path.length > 5) return undefined;
      count(operation);
      if (!(await clusterExists(incoming, clusterName))) {
        throw new ApiError(404, 'ResourceNotFoundException', `No cluster found for name: ${clusterName}.`);
      }
      const inCluster = [...associations.values()].filter(
        (item) => item.region === region && item.clusterName === clusterName,
      );
      if (operation === 'CreatePodIdentityAssociation') {
        const namespace = requiredString(input, 'namespace');
        const serviceAccount = requiredString(input, 'serviceAccount');
        const roleArn = requiredString(input, 'roleArn');
        const tags = validTags(input.tags);
        if (
          inCluster.some((item) => item.namespace === namespace && item.serviceAccount === serviceAccount)
        ) {
          throw new ApiError(
            409,
            'ResourceInUseException',
            `Association already exists for namespace ${namespace} and service account ${serviceAccount}`,
          );
        }
        if (inCluster.length >= limit) {
          throw new ApiError(
            400,
            'ResourceLimitExceededException',
            `Cluster ${clusterName} already has ${inCluster.length} pod identity associations, the maximum`,
          );
        }
        await checkRole(roleArn);
        const associationId = `a-${randomId(17)}`;
        const record: PodIdentityAssociationRecord = {
          region,
          clusterName,
          namespace,
          serviceAccount,
          roleArn,
          associationId,
          associationArn: `arn:aws:eks:${region}:${EMULATOR_ACCOUNT_ID}:podidentityassociation/${clusterName}/${associationId}`,
          tags,
          createdAt: now(),
          modifiedAt: now(),
        };
        associations.set(associationId, record);
        return { association: full(record) };
      }
      if (operation === 'ListPodIdentityAssociations') {
        const maxResults = url.searchParams.has('maxResults')
          ? Number(url.searchParams.get('maxResults'))
          : 100;
        if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 100) {
          throw new ApiError(400, 'InvalidParameterException', 'maxResults must be between 1 and 100');
        }
        const namespace = url.searchParams.get('namespace');
        const serviceAccount = url.searchParams.get('serviceAccount');
        const matching = inCluster.filter(
          (item) =>
            (namespace === null || item.namespace === namespace) &&
            (serviceAccount === null || item.serviceAccount === serviceAccount),
        );
        const token = url.searchParams.get('nextToken');
        const start = token === null ? 0 : decodeToken(token, clusterName);
        const page = matching.slice(start, start + maxResults);
        return {
          associations: page.map(summary),
          ...(start + maxResults < matching.length
            ? { nextToken: encodeToken(clusterName, start + maxResults) }
            : {}),
        };
      }
      const record = id === undefined ? undefined : associations.get(id);
      if (!record || record.region !== region || record.clusterName !== clusterName) {
        throw new ApiError(
          404,
          'ResourceNotFoundException',
          `Association ${id} not found in cluster ${clusterName}`,
        );
      }
      if (operation === 'DescribePodIdentityAssociation') return { association: full(record) };
      if (operation === 'UpdatePodIdentityAssociation') {
        if (input.roleArn !== undefined) {
          const roleArn = requiredString(input, 'roleArn');
          await checkRole(roleArn);
          record.roleArn = roleArn;
        }
        record.modifiedAt = now();
        return { association: full(record) };
      }
      associations.delete(record.associationId);
      return { association: full(record) };
    }

    if (path[3] === 'addons') {
      const addonName = path[4];
      const operation =
        addonName === undefined
          ? method === 'POST'
            ? 'CreateAddon'
            : 'ListAddons'
          : method === 'GET' && path.length === 5
            ? 'DescribeAddon'
            : undefined;
      if (operation === undefined) return undefined;
      count(operation);
      if (!(await clusterExists(incoming, clusterName))) {
        throw new ApiError(404, 'ResourceNotFoundException', `No cluster found for name: ${clusterName}.`);
      }
      if (operation === 'ListAddons') {
        return {
          addons: [...addons.values()]
            .filter((addon) => addon.region === region && addon.clusterName === clusterName)
            .map((addon) => addon.addonName),
        };
      }
      if (operation === 'CreateAddon') {
        const name = requiredString(input, 'addonName');
        const key = addonKey(region, clusterName, name);
        if (addons.has(key))
          throw new ApiError(409, 'ResourceInUseException', `Addon already exists: ${name}`);
        const addon: AddonRecord = {
          region,
          clusterName,
          addonName: name,
          status: 'CREATING',
          addonArn: `arn:aws:eks:${region}:${EMULATOR_ACCOUNT_ID}:addon/${clusterName}/${name}/${randomId(8)}`,
          createdAt: now(),
        };
        addons.set(key, addon);
        return { addon: addonShape(addon) };
      }
      const addon = addons.get(addonKey(region, clusterName, addonName ?? ''));
      if (!addon) {
        throw new ApiError(
          404,
          'ResourceNotFoundException',
          `No addon: ${addonName} found in cluster: ${clusterName}`,
        );
      }
      const shown = addonShape(addon);
      addon.status = 'ACTIVE';
      return { addon: shown };
    }
    return undefined;
  }

  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      handle(incoming, body).then(
        (answer) => {
          if (answer === undefined) forwardRequest(upstream, incoming, outgoing, body);
          else reply(outgoing, 200, answer);
        },
        (error: unknown) => {
          if (error instanceof ApiError) {
            reply(outgoing, error.status, { message: error.message }, error.code);
          } else {
            reply(outgoing, 500, { message: String(error) }, 'ServerException');
          }
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    associations: () => [...associations.values()].map((record) => ({ ...record, tags: { ...record.tags } })),
    addons: () => [...addons.values()].map((addon) => ({ ...addon })),
    calls,
    stop: async () => {
      iam.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function reply(outgoing: ServerResponse, status: number, body: unknown, errorType?: string): void {
  outgoing
    .writeHead(status, {
      'content-type': 'application/json',
      ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
    })
    .end(JSON.stringify(body));
}

function summary(record: PodIdentityAssociationRecord) {
  return {
    clusterName: record.clusterName,
    namespace: record.namespace,
    serviceAccount: record.serviceAccount,
    associationArn: record.associationArn,
    associationId: record.associationId,
  };
}

function full(record: PodIdentityAssociationRecord) {
  return {
    ...summary(record),
    roleArn: record.roleArn,
    tags: record.tags,
    createdAt: record.createdAt,
    modifiedAt: record.modifiedAt,
  };
}

function addonShape(addon: AddonRecord) {
  return {
    addonName: addon.addonName,
    clusterName: addon.clusterName,
    status: addon.status,
    addonVersion: 'v1.3.4-eksbuild.1',
    addonArn: addon.addonArn,
    createdAt: addon.createdAt,
    modifiedAt: addon.createdAt,
    tags: {},
  };
}

function requiredString(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value === '') {
    throw new ApiError(400, 'InvalidParameterException', `${field} is required`);
  }
  return value;
}

/** EKS tags: at most 50, keys 1–128 and values at most 256 characters, no `aws:` prefix. */
function validTags(raw: unknown): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null)
    throw new ApiError(400, 'InvalidParameterException', 'tags must be a map');
  const tags = raw as Record<string, unknown>;
  if (Object.keys(tags).length > 50) throw new ApiError(400, 'InvalidParameterException', 'at most 50 tags');
  for (const [key, value] of Object.entries(tags)) {
    if (key.length < 1 || key.length > 128 || key.toLowerCase().startsWith('aws:')) {
      throw new ApiError(400, 'InvalidParameterException', `invalid tag key ${key}`);
    }
    if (typeof value !== 'string' || value.length > 256) {
      throw new ApiError(400, 'InvalidParameterException', `invalid tag value for ${key}`);
    }
  }
  return { ...(tags as Record<string, string>) };
}

function addonKey(region: string, clusterName: string, addonName: string): string {
  return JSON.stringify([region, clusterName, addonName]);
}

function randomId(length: number): string {
  return [...randomBytes(length)].map((byte) => ASSOCIATION_ID_ALPHABET[byte % 36]).join('');
}

function encodeToken(clusterName: string, offset: number): string {
  return Buffer.from(JSON.stringify([clusterName, offset])).toString('base64url');
}

function decodeToken(token: string, clusterName: string): number {
  try {
    const [cluster, offset] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as [
      string,
      number,
    ];
    if (cluster === clusterName && Number.isInteger(offset) && offset >= 0) return offset;
  } catch {
    // fall through
  }
  throw new ApiError(400, 'InvalidParameterException', 'The nextToken is invalid');
}
