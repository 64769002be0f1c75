/** Who a request to the kubelet's server comes from, as the API server's user.Info says it. */
export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export const AnonymousUser: UserInfo = { name: 'system:anonymous', groups: ['system:unauthenticated'] };

/** The group of every user an authenticator named (not of system:anonymous). */
export const AuthenticatedGroup = 'system:authenticated';
