// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${...}` here is CloudFormation Fn::Sub syntax under test, not JavaScript
import { stageValues, toCloudFormationString } from '../../../config/stage-values';

/** config/stage-values.js: what the stack derives from config/<stage>.yml, and what it refuses. */

function stageFile(overrides: Record<string, unknown> = {}, reconciler: Record<string, unknown> = {}) {
  return {
    region: 'eu-west-1',
    chartPrefix: 'charts/',
    dataReadRoleName: '',
    createDataBucketUser: false,
    createAppConfig: false,
    ...overrides,
    reconciler: { bindings: [], ...reconciler },
  };
}

describe('toCloudFormationString', () => {
  it('leaves a string without stack tokens as it is, literal ${...} included', () => {
    expect(toCloudFormationString('{"prefix":"${Namespace}/x"}')).toBe('{"prefix":"${Namespace}/x"}');
  });

  it('wraps a string with stack tokens in Fn::Sub and escapes every other ${', () => {
    expect(toCloudFormationString('${DataBucket}:${AWS::AccountId}:${Namespace}')).toEqual({
      'Fn::Sub': '${DataBucket}:${AWS::AccountId}:${!Namespace}',
    });
  });
});

describe('stageValues', () => {
  it('writes the default role path and switches into the configuration and derives the parameters', () => {
    // Act
    const values = stageValues(stageFile(), 'uat');
    // Assess
    expect(values.rolePath).toBe('/irsa-reconciler/uat/');
    expect(values.json).toBe('{"bindings":[],"rolePath":"/irsa-reconciler/uat/","createOidcProvider":false}');
    expect(values.chartPath).toBe('charts');
    expect(values.parameters).toEqual({
      CreateOidcProvider: 'false',
      UsePermissionsBoundary: 'false',
      DataReadRoleName: '',
      CreateDataBucketUser: 'false',
      CreateAppConfig: 'false',
    });
  });

  it('keeps a permissions boundary in the configuration and turns its IAM condition on', () => {
    // Prepare
    const boundary = 'arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/boundary';
    // Act
    const values = stageValues(
      stageFile({}, { permissionsBoundaryArn: boundary, createOidcProvider: true }),
      'prod',
    );
    // Assess
    expect(values.parameters).toMatchObject({ UsePermissionsBoundary: 'true', CreateOidcProvider: 'true' });
    expect(values.permissionsBoundaryArn).toEqual({ 'Fn::Sub': boundary });
    expect(values.config).toMatchObject({
      permissionsBoundaryArn: boundary,
      rolePath: '/irsa-reconciler/prod/',
    });
  });

  it('guards AppConfig tokens with the AppConfigCreation condition', () => {
    // Prepare
    const reconciler = { tags: { app: '${AppConfigApplication}' } };
    // Act
    const values = stageValues(stageFile({ createAppConfig: true }, reconciler), 'uat');
    // Assess
    expect(values.json).toEqual({
      'Fn::If': [
        'AppConfigCreation',
        { 'Fn::Sub': expect.stringContaining('${AppConfigApplication}') },
        { Ref: 'AWS::NoValue' },
      ],
    });
  });

  it.each([
    [
      'AppConfig tokens without createAppConfig',
      stageFile({}, { tags: { app: '${AppConfigProfile}' } }),
      /uses \$\{AppConfigProfile\} but createAppConfig is false/,
    ],
    [
      'a role path without its trailing slash',
      stageFile({}, { rolePath: '/irsa' }),
      /reconciler\.rolePath must be an IAM path/,
    ],
    [
      'a switch given as a string',
      stageFile({ createDataBucketUser: 'yes' }),
      /createDataBucketUser must be true or false/,
    ],
    [
      'a chart prefix that is not a folder',
      stageFile({ chartPrefix: 'charts' }),
      /chartPrefix must be a key prefix ending in "\/"/,
    ],
    ['an empty chart prefix', stageFile({ chartPrefix: '' }), /chartPrefix must be a key prefix/],
    [
      'a role name with a slash',
      stageFile({ dataReadRoleName: 'a/b' }),
      /dataReadRoleName must be an IAM role name/,
    ],
    [
      'a configuration over the Lambda environment limit',
      stageFile(
        {},
        { tags: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`key-${i}`, 'value'])) },
      ),
      /limited to 4 KB/,
    ],
  ])('refuses %s, naming the stage file and key', (_name, file, message) => {
    expect(() => stageValues(file, 'uat')).toThrow(message);
    expect(() => stageValues(file, 'uat')).toThrow(/^config\/uat\.yml: /);
  });
});
