import {
  CreateAddonCommand,
  CreatePodIdentityAssociationCommand,
  DeletePodIdentityAssociationCommand,
  DescribePodIdentityAssociationCommand,
  ListPodIdentityAssociationsCommand,
  UpdatePodIdentityAssociationCommand,
} from '@aws-sdk/client-eks';
import { awsErrorCode, IrsaReconcilerError, isNotFound, NotOwnedError, toAwsCallError } from '../errors';
import type { ReconcilerDeps } from './deps';
import { hasOwnershipTags, TAG_MANAGED_BY, TAG_MANAGED_BY_VALUE, TAG_STAGE } from './ownership';
import { POD_IDENTITY_AGENT_ADDON } from './pod-identity';
import type { Action, AssociationRef, DesiredAssociation, ReconcilerConfig } from './types';

/**
 * The EKS calls of the Pod Identity actions, each safe to repeat: a create that finds the association
 * there checks it is ours; an update or delete re-reads the association and acts only on one this
 * deployment owns (its tags); NotFound on delete is success. A role created moments ago may be refused
 * until IAM has propagated it: the create or update is retried after the given waits.
 */

export type AssociationAction = Extract<
  Action,
  { kind: 'create-association' | 'update-association' | 'delete-association' | 'association-no-op' }
>;

export interface PodIdentityApplyContext {
  deps: ReconcilerDeps;
  config: ReconcilerConfig;
  /** Waits before retrying a create or update refused because its role is not visible yet. */
  roleVisibilityDelaysMs: readonly number[];
  sleep: (ms: number) => Promise<void>;
}

export async function installAgent(
  context: PodIdentityApplyContext,
  region: string,
  clusterName: string,
): Promise<void> {
  try {
    const { addon } = await context.deps.clients.eks(region).send(
      new CreateAddonCommand({
        clusterName,
        addonName: POD_IDENTITY_AGENT_ADDON,
        // The stack lets the reconciler create add-ons only with its ownership tags.
        tags: { [TAG_MANAGED_BY]: TAG_MANAGED_BY_VALUE, [TAG_STAGE]: context.config.stage },
      }),
    );
    context.deps.logger.info('installing the eks-pod-identity-agent add-on', {
      region,
      cluster: clusterName,
      status: addon?.status,
    });
  } catch (error) {
    // Installed meanwhile (by someone else, or a retried request): what was wanted.
    if (awsErrorCode(error) === 'ResourceInUseException') return;
    throw toAwsCallError(`EKS CreateAddon ${POD_IDENTITY_AGENT_ADDON} on ${clusterName} in ${region}`, error);
  }
}

/** Runs one association action; `roleIsNew`: its role was created in this run (IAM may lag). */
export async function applyAssociation(
  context: PodIdentityApplyContext,
  action: AssociationAction,
  roleIsNew: boolean,
): Promise<void> {
  switch (action.kind) {
    case 'create-association':
      return createAssociation(context, action.association, roleIsNew);
    case 'update-association':
      return updateAssociation(context, action.association, action.associationId, action.roleArn, roleIsNew);
    case 'delete-association':
      return deleteAssociation(context, action.association, action.associationId);
    case 'association-no-op':
      return;
  }
}

async function createAssociation(
  context: PodIdentityApplyContext,
  association: DesiredAssociation,
  roleIsNew: boolean,
): Promise<void> {
  const eks = context.deps.clients.eks(association.region);
  const request = new CreatePodIdentityAssociationCommand({
    clusterName: association.clusterName,
    namespace: association.namespace,
    serviceAccount: association.serviceAccount,
    roleArn: association.roleArn,
    tags: association.tags,
  });
  try {
    await retryWhileRoleInvisible(context, roleIsNew, association, () => eks.send(request));
    context.deps.logger.info('created association', { ...refOf(association), role: association.roleName });
  } catch (error) {
    if (awsErrorCode(error) !== 'ResourceInUseException') {
      throw toAwsCallError(`EKS CreatePodIdentityAssociation ${describe(association)}`, error);
    }
    // One exists at this namespace/ServiceAccount (made meanwhile, or a retried create that went through).
    const existing = await findAssociation(context, association);
    if (!existing) {
      throw new IrsaReconcilerError(`association ${describe(association)} was deleted while being created`, {
        retryable: true,
      });
    }
    if (existing.roleArn !== association.roleArn) {
      await updateAssociation(context, association, existing.associationId, association.roleArn, roleIsNew);
    }
  }
}

async function updateAssociation(
  context: PodIdentityApplyContext,
  association: AssociationRef,
  associationId: string,
  roleArn: string,
  roleIsNew: boolean,
): Promise<void> {
  const current = await readOwned(context, association, associationId, 'update');
  if (!current) {
    throw new IrsaReconcilerError(
      `association ${associationId} (${describe(association)}) no longer exists; the next run creates it`,
      { retryable: true },
    );
  }
  const eks = context.deps.clients.eks(association.region);
  try {
    await retryWhileRoleInvisible(context, roleIsNew, association, () =>
      eks.send(
        new UpdatePodIdentityAssociationCommand({
          clusterName: association.clusterName,
          associationId,
          roleArn,
        }),
      ),
    );
  } catch (error) {
    throw toAwsCallError(
      `EKS UpdatePodIdentityAssociation ${associationId} (${describe(association)})`,
      error,
    );
  }
  context.deps.logger.info('pointed association at its role', {
    ...refOf(association),
    associationId,
    roleArn,
  });
}

async function deleteAssociation(
  context: PodIdentityApplyContext,
  association: AssociationRef,
  associationId: string,
): Promise<void> {
  const current = await readOwned(context, association, associationId, 'delete');
  if (!current) return;
  try {
    await context.deps.clients
      .eks(association.region)
      .send(new DeletePodIdentityAssociationCommand({ clusterName: association.clusterName, associationId }));
  } catch (error) {
    if (isNotFound(error)) return;
    throw toAwsCallError(
      `EKS DeletePodIdentityAssociation ${associationId} (${describe(association)})`,
      error,
    );
  }
  context.deps.logger.info('deleted association', { ...refOf(association), associationId });
}

/**
 * Describes the association again (the plan may be stale): undefined when it is gone, its role when it
 * is this deployment's; a NotOwnedError when someone else's sits there now.
 */
async function readOwned(
  context: PodIdentityApplyContext,
  association: AssociationRef,
  associationId: string,
  purpose: string,
): Promise<{ roleArn: string } | undefined> {
  let found: { roleArn?: string; tags?: Record<string, string>; ownerArn?: string } | undefined;
  try {
    const answer = await context.deps.clients
      .eks(association.region)
      .send(
        new DescribePodIdentityAssociationCommand({ clusterName: association.clusterName, associationId }),
      );
    found = answer.association;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw toAwsCallError(
      `EKS DescribePodIdentityAssociation ${associationId} (${describe(association)})`,
      error,
    );
  }
  if (found === undefined) return undefined;
  if (found.ownerArn !== undefined || !hasOwnershipTags(found.tags ?? {}, context.config.stage)) {
    throw new NotOwnedError(
      `cannot ${purpose} association ${associationId} (${describe(association)}): it does not carry this ` +
        `deployment's tags (${TAG_MANAGED_BY}=${TAG_MANAGED_BY_VALUE}, ${TAG_STAGE}=${context.config.stage})`,
    );
  }
  return { roleArn: found.roleArn ?? '' };
}

/** The association at a namespace/ServiceAccount, if any, checked to be this deployment's. */
async function findAssociation(
  context: PodIdentityApplyContext,
  association: DesiredAssociation,
): Promise<{ associationId: string; roleArn: string } | undefined> {
  let listed: string | undefined;
  try {
    const { associations } = await context.deps.clients.eks(association.region).send(
      new ListPodIdentityAssociationsCommand({
        clusterName: association.clusterName,
        namespace: association.namespace,
        serviceAccount: association.serviceAccount,
      }),
    );
    listed = associations?.[0]?.associationId;
  } catch (error) {
    throw toAwsCallError(`EKS ListPodIdentityAssociations ${describe(association)}`, error);
  }
  if (listed === undefined) return undefined;
  const owned = await readOwned(context, association, listed, 'adopt');
  return owned && { associationId: listed, roleArn: owned.roleArn };
}

async function retryWhileRoleInvisible<T>(
  context: PodIdentityApplyContext,
  roleIsNew: boolean,
  association: AssociationRef,
  send: () => Promise<T>,
): Promise<T> {
  const waits = roleIsNew ? [...context.roleVisibilityDelaysMs] : [];
  for (;;) {
    try {
      return await send();
    } catch (error) {
      const wait = awsErrorCode(error) === 'InvalidParameterException' ? waits.shift() : undefined;
      if (wait === undefined) throw error;
      context.deps.logger.info('role refused right after its creation (IAM propagation); retrying', {
        ...refOf(association),
        waitMs: wait,
      });
      await context.sleep(wait);
    }
  }
}

function refOf(association: AssociationRef): Record<string, string> {
  return {
    region: association.region,
    cluster: association.clusterName,
    namespace: association.namespace,
    serviceAccount: association.serviceAccount,
    binding: association.bindingName,
  };
}

function describe(association: AssociationRef): string {
  return `${association.region}/${association.clusterName} ${association.namespace}/${association.serviceAccount}`;
}
