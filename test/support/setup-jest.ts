import 'aws-sdk-client-mock-jest';

// Emulator tests start their own servers and some of them run many Lambda invocations.
jest.setTimeout(120_000);
