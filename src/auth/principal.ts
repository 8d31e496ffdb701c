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
}
