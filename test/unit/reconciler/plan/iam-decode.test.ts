import { decodePolicyDocument } from '../../../../lib/reconciler/plan/iam-decode';

const DOCUMENT = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/100%/*' }],
};

describe('decodePolicyDocument', () => {
  it('decodes the URL-encoded JSON IAM returns', () => {
    expect(decodePolicyDocument(encodeURIComponent(JSON.stringify(DOCUMENT)), 'x')).toEqual(DOCUMENT);
  });

  it('accepts plain JSON and leaves a literal percent sign alone', () => {
    expect(decodePolicyDocument(JSON.stringify(DOCUMENT), 'x')).toEqual(DOCUMENT);
  });

  it('turns a single statement object into a list and defaults a missing Version as IAM does', () => {
    const single = { Statement: { Effect: 'Deny', Action: '*', Resource: '*' } };
    expect(decodePolicyDocument(JSON.stringify(single), 'x')).toEqual({
      Version: '2008-10-17',
      Statement: [single.Statement],
    });
  });

  it.each([
    ['%E0%A4%A', /neither JSON nor URL-encoded JSON/],
    ['%7Bnot json', /not valid JSON/],
    ['{"Version":"2012-10-17"}', /has no Statement/],
    ['[1]', /has no Statement/],
  ])('rejects %s naming what was read', (text, message) => {
    expect(() => decodePolicyDocument(text, 'trust policy of role r')).toThrow(/^trust policy of role r/);
    expect(() => decodePolicyDocument(text, 'trust policy of role r')).toThrow(message);
  });
});
