import { ConfigError } from '../../../lib/errors';
import { indexerConfigFromEnv, parseIndexerConfig } from '../../../lib/helm/config';

describe('parseIndexerConfig', () => {
  it('fills the defaults: prefix charts/, the index inside it, bounded concurrency, no attempt cap', () => {
    // Act
    const config = parseIndexerConfig({ bucket: 'acme-helm-charts' });

    // Assess
    expect(config).toEqual({
      bucket: 'acme-helm-charts',
      prefix: 'charts/',
      indexKey: 'charts/index.yaml',
      concurrency: 8,
      indexFormat: 'yaml',
    });
  });

  it('derives the index key from a custom prefix and keeps an explicit one', () => {
    expect(parseIndexerConfig({ bucket: 'b-1', prefix: 'stable/' }).indexKey).toBe('stable/index.yaml');
    expect(parseIndexerConfig({ bucket: 'b-1', prefix: '' }).indexKey).toBe('index.yaml');
    expect(parseIndexerConfig({ bucket: 'b-1', indexKey: 'charts/index.json' }).indexKey).toBe(
      'charts/index.json',
    );
  });

  it.each([
    [{}, 'bucket: is required'],
    [{ bucket: 'Acme_Charts' }, 'bucket: must be an S3 bucket name'],
    [{ bucket: 'acme', prefix: 'charts' }, 'prefix: must be empty or end with "/"'],
    [{ bucket: 'acme', prefix: '/charts/' }, 'prefix: must not start with "/"'],
    [{ bucket: 'acme', indexKey: 'charts/index.tgz' }, 'indexKey: must not end with ".tgz"'],
    [{ bucket: 'acme', baseUrl: 'charts.example.com' }, 'baseUrl: must be an absolute'],
    [{ bucket: 'acme', baseUrl: 'ftp://charts.example.com' }, 'baseUrl: must be an absolute'],
    [{ bucket: 'acme', maxAttempts: 0 }, 'maxAttempts:'],
    [{ bucket: 'acme', concurrency: 2.5 }, 'concurrency: must be an integer'],
    [{ bucket: 'acme', prefx: 'charts/' }, 'prefx:'],
  ])('rejects %j naming the field', (input, message) => {
    expect(() => parseIndexerConfig(input)).toThrow(ConfigError);
    expect(() => parseIndexerConfig(input)).toThrow(message);
  });

  it('accepts an absolute https or s3 base URL', () => {
    expect(parseIndexerConfig({ bucket: 'acme', baseUrl: 'https://charts.example.com/stable' }).baseUrl).toBe(
      'https://charts.example.com/stable',
    );
    expect(parseIndexerConfig({ bucket: 'acme', baseUrl: 's3://acme/charts' }).baseUrl).toBe(
      's3://acme/charts',
    );
  });
});

describe('indexerConfigFromEnv', () => {
  it('reads the Lambda environment, an empty optional variable meaning its default', () => {
    // Act
    const config = indexerConfigFromEnv({
      CHART_BUCKET: 'acme-helm-charts',
      CHART_PREFIX: 'stable/',
      CHART_BASE_URL: '',
      CHART_CONCURRENCY: '4',
    });

    // Assess
    expect(config).toEqual({
      bucket: 'acme-helm-charts',
      prefix: 'stable/',
      indexKey: 'stable/index.yaml',
      concurrency: 4,
      indexFormat: 'yaml',
    });
  });

  it('reads the index format, and names the variable when it is neither yaml nor json', () => {
    expect(indexerConfigFromEnv({ CHART_BUCKET: 'acme', CHART_INDEX_FORMAT: 'json' }).indexFormat).toBe(
      'json',
    );
    expect(() => indexerConfigFromEnv({ CHART_BUCKET: 'acme', CHART_INDEX_FORMAT: 'toml' })).toThrow(
      'CHART_INDEX_FORMAT: must be yaml or json',
    );
  });

  it('names the environment variable that is missing or wrong', () => {
    expect(() => indexerConfigFromEnv({})).toThrow('CHART_BUCKET: is required');
    expect(() => indexerConfigFromEnv({ CHART_BUCKET: 'acme', CHART_MAX_ATTEMPTS: 'many' })).toThrow(
      'CHART_MAX_ATTEMPTS:',
    );
    expect(() => indexerConfigFromEnv({ CHART_BUCKET: 'acme', CHART_BASE_URL: '/relative' })).toThrow(
      'CHART_BASE_URL: must be an absolute',
    );
  });
});
