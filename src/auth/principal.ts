import type { TokenSubject } from './tokens.js';

/** Who is calling: the authenticated user as every service sees it. */
export interface Principal {
  userId: string;
  provider: string;
  providerId: string;
  email: string;
  name: string;
  groups: string[];
  isAdmin: boolean;
  isSecurityReviewer: boolean;
  /** The access token's id, for logout and revocation. */
  tokenId: string;
  tokenExpiresAt: number;
  /** When the access token was issued (seconds), for revocations of every token a user got up to a moment. */
  tokenIssuedAt?: number;
}

/**
 * The principal of a stored user, for credentials other than an access token (a WebSocket ticket):
 * `tokenId` names the credential, `expiresAt` (seconds) is when it stops counting.
 */
export function principalOfUser(user: TokenSubject, credential: { tokenId: string; expiresAt: number }): Principal {
  return {
    userId: user.id,
    provider: user.provider,
    providerId: user.providerId,
    email: user.email,
    name: user.name,
    groups: user.groups,
    isAdmin: user.isAdmin,
    isSecurityReviewer: user.isSecurityReviewer,
    tokenId: credential.tokenId,
    tokenExpiresAt: credential.expiresAt,
  };
}
