import { IrsaReconcilerError } from '../../errors';
import type { Blob } from './artifact';
import { type ChartArtifact, MANIFEST_MEDIA_TYPE } from './artifact';

/**
 * The four calls of the OCI distribution API a chart push needs (HEAD a blob, upload it in one PUT,
 * PUT the manifest, HEAD or DELETE a tag). Written here, on Node's fetch, because no maintained npm
 * library does it: the registry clients on npm (docker-registry-client, oci-registry-client) are
 * unmaintained and pull-oriented, and ORAS has no JavaScript implementation.
 */

export interface RegistryOptions {
  /** `https://<account>.dkr.ecr.<region>.amazonaws.com`, or `http://127.0.0.1:<port>` in tests. */
  baseUrl: string;
  /** The Authorization header value (ECR: `Basic <token>`), read before each operation. */
  authorization?: () => Promise<string | undefined>;
  fetch?: typeof fetch;
}

export type PushOutcome = 'pushed' | 'unchanged';

export class OciRegistry {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: RegistryOptions) {
    this.fetch = options.fetch ?? fetch;
  }

  /**
   * Pushes the artifact under `repository:tag` unless the tag already names the same manifest: a
   * redelivered event makes no push. Blobs the registry has are not uploaded again.
   */
  async pushChart(repository: string, artifact: ChartArtifact): Promise<PushOutcome> {
    if ((await this.manifestDigest(repository, artifact.tag)) === artifact.manifest.digest)
      return 'unchanged';
    for (const blob of [artifact.layer, artifact.config]) {
      if (!(await this.hasBlob(repository, blob.digest))) await this.uploadBlob(repository, blob);
    }
    await this.request('PUT', `${repository}/manifests/${artifact.tag}`, [201], {
      body: artifact.manifest.bytes,
      headers: { 'content-type': MANIFEST_MEDIA_TYPE },
    });
    return 'pushed';
  }

  /** The digest a tag names, or undefined when there is no such tag (or repository). */
  async manifestDigest(repository: string, tag: string): Promise<string | undefined> {
    const response = await this.request('HEAD', `${repository}/manifests/${tag}`, [200, 404], {
      headers: { accept: MANIFEST_MEDIA_TYPE },
    });
    return response.status === 200 ? (response.headers.get('docker-content-digest') ?? undefined) : undefined;
  }

  /** Removes a tag; a tag or repository that is not there is already removed. */
  async deleteTag(repository: string, tag: string): Promise<'deleted' | 'absent'> {
    const response = await this.request('DELETE', `${repository}/manifests/${tag}`, [200, 202, 404]);
    return response.status === 404 ? 'absent' : 'deleted';
  }

  private async hasBlob(repository: string, digest: string): Promise<boolean> {
    const response = await this.request('HEAD', `${repository}/blobs/${digest}`, [200, 404]);
    return response.status === 200;
  }

  /** A monolithic upload: POST for an upload location, then one PUT with the bytes and the digest. */
  private async uploadBlob(repository: string, blob: Blob): Promise<void> {
    const started = await this.request('POST', `${repository}/blobs/uploads/`, [202]);
    const location = started.headers.get('location');
    if (!location)
      throw new IrsaReconcilerError(`registry: no upload location for ${repository}`, { retryable: true });
    const target = new URL(location, this.options.baseUrl);
    target.searchParams.set('digest', blob.digest);
    await this.send('PUT', target, [201], {
      body: blob.bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
  }

  private request(
    method: string,
    path: string,
    expected: number[],
    init: RequestInit = {},
  ): Promise<Response> {
    return this.send(method, new URL(`/v2/${path}`, this.options.baseUrl), expected, init);
  }

  private async send(method: string, url: URL, expected: number[], init: RequestInit): Promise<Response> {
    const authorization = await this.options.authorization?.();
    let response: Response;
    try {
      response = await this.fetch(url, {
        ...init,
        method,
        headers: { ...(init.headers as Record<string, string>), ...(authorization ? { authorization } : {}) },
      });
    } catch (error) {
      throw new IrsaReconcilerError(`registry: ${method} ${url.pathname} failed: ${String(error)}`, {
        cause: error,
        retryable: true,
      });
    }
    if (!expected.includes(response.status)) {
      const text = method === 'HEAD' ? '' : (await response.text()).slice(0, 300);
      throw new IrsaReconcilerError(
        `registry: ${method} ${url.pathname} answered ${response.status}${text ? `: ${text}` : ''}`,
        { retryable: response.status === 429 || response.status >= 500 },
      );
    }
    if (method !== 'HEAD') await response.arrayBuffer().catch(() => undefined);
    return response;
  }
}
