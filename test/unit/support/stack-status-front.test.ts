import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { type StackStatusFront, startStackStatusFront } from '../../support/stack-status-front';

/** The fake's own tests: the SDK reads its answers as CloudFormation's, and other calls pass through. */

const STACK_ID =
  'arn:aws:cloudformation:eu-west-1:123456789012:stack/irsa-reconciler-uat/5b8f2a10-a8e2-11f1-9a3c-06d1e2b3c4f5';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

describe('the stack status front', () => {
  let upstream: Server;
  const forwarded: string[] = [];
  let front: StackStatusFront;

  beforeAll(async () => {
    upstream = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      request.on('end', () => {
        forwarded.push(body);
        response
          .writeHead(200, { 'content-type': 'text/xml' })
          .end(
            '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>' +
              '<Arn>arn:aws:iam::123456789012:user/u</Arn><UserId>U</UserId><Account>123456789012</Account>' +
              '</GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>' +
              '</GetCallerIdentityResponse>',
          );
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    front = await startStackStatusFront(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
  });

  afterAll(async () => {
    await front.stop();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  const cloudformation = () =>
    new CloudFormationClient({ region: 'eu-west-1', endpoint: front.endpoint, credentials, maxAttempts: 1 });

  it('answers DescribeStacks with the status the test set, as the SDK reads it', async () => {
    front.setStatus(STACK_ID, 'DELETE_IN_PROGRESS');

    const { Stacks } = await cloudformation().send(new DescribeStacksCommand({ StackName: STACK_ID }));

    expect(Stacks).toEqual([
      expect.objectContaining({
        StackId: STACK_ID,
        StackName: 'irsa-reconciler-uat',
        StackStatus: 'DELETE_IN_PROGRESS',
      }),
    ]);
    expect(front.described).toContain(STACK_ID);
  });

  it("answers CloudFormation's ValidationError for a stack it does not know", async () => {
    const outcome = cloudformation().send(new DescribeStacksCommand({ StackName: `${STACK_ID}-other` }));

    await expect(outcome).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(outcome).rejects.toThrow(/does not exist/);
  });

  it('forwards every other request to the emulator unchanged', async () => {
    const sts = new STSClient({ region: 'eu-west-1', endpoint: front.endpoint, credentials, maxAttempts: 1 });

    const identity = await sts.send(new GetCallerIdentityCommand({}));

    expect(identity.Account).toBe('123456789012');
    expect(forwarded.some((body) => body.includes('Action=GetCallerIdentity'))).toBe(true);
  });
});
