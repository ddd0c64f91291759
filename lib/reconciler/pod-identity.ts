/**
 * The names observe and plan share about EKS Pod Identity: how an association is keyed, and the
 * agent add-on's name and the state that says it is not there.
 */

export const POD_IDENTITY_AGENT_ADDON = 'eks-pod-identity-agent';
/** DescribeAddon found no agent add-on. */
export const AGENT_MISSING = 'MISSING';

export function pairKey(namespace: string, serviceAccount: string): string {
  return `${namespace}/${serviceAccount}`;
}

export function clusterKeyOf(region: string, clusterName: string): string {
  return JSON.stringify([region, clusterName]);
}
