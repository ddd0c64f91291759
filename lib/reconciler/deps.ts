import type { AwsClients } from '../aws/clients';
import type { Logger } from '../observability/logger';

/** What every step of the pipeline is given: the container's AWS clients and the run's logger. */
export interface ReconcilerDeps {
  clients: AwsClients;
  logger: Logger;
  /** The run's clock (the association verification window); the wall clock when not given. */
  now?: () => Date;
}
