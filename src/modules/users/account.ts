import { randomSecret, hashSecret } from '../../auth/tokens.js';
import { requirePrincipal, type ServiceContext } from '../../infra/context.js';
import { AppError } from '../../infra/errors/registry.js';
import { deleteUserAndData } from '../admin/users.js';

// DELETE /me, TMI's two steps: a call without a challenge answers a challenge text (valid 3 minutes,
// kept only as a hash, one per user: a new one replaces it); the call repeating that exact text deletes
// the account. Owned threat models pass to another owner on their authorization list, or are deleted.

export const DELETION_CHALLENGE_SECONDS = 180;

export interface DeletionChallenge {
  challengeText: string;
  expiresAt: Date;
}

/** Either step's outcome: a challenge (step 1), or the deletion done (step 2). */
export interface AccountDeletion {
  challenge: DeletionChallenge | null;
  deleted: boolean;
  threatModelsTransferred: number;
  threatModelsDeleted: number;
}

export class AccountService {
  constructor(private readonly ctx: ServiceContext) {}

  async deleteMe(challenge: string | null | undefined): Promise<AccountDeletion> {
    if (challenge === undefined || challenge === null || challenge === '') {
      return {
        challenge: await this.issueChallenge(),
        deleted: false,
        threatModelsTransferred: 0,
        threatModelsDeleted: 0,
      };
    }
    const outcome = await this.confirm(challenge);
    return {
      challenge: null,
      deleted: true,
      threatModelsTransferred: outcome.transferred,
      threatModelsDeleted: outcome.deleted,
    };
  }

  private async issueChallenge(): Promise<DeletionChallenge> {
    const principal = requirePrincipal(this.ctx);
    const now = this.ctx.now();
    // Whole seconds: TMI's DeletionChallenge allows at most microseconds.
    const expiresAt = new Date(Math.floor(now.getTime() / 1000) * 1000 + DELETION_CHALLENGE_SECONDS * 1000);
    const challengeText =
      `I am user ${principal.email}. I want to delete my account and all my data. I understand that this ` +
      'cannot be undone: every threat model I own that no other owner shares is deleted, and every reference ' +
      `to my account is removed. My challenge token is ${randomSecret(24)}.`;
    await this.ctx.db.prisma.accountDeletionChallenge.upsert({
      where: { userId: principal.userId },
      create: { userId: principal.userId, textHash: hashSecret(challengeText), expiresAt },
      update: { textHash: hashSecret(challengeText), expiresAt },
    });
    return { challengeText, expiresAt };
  }

  private async confirm(challenge: string): Promise<{ transferred: number; deleted: number }> {
    const principal = requirePrincipal(this.ctx);
    // Single use: whichever request claims the challenge deletes; a wrong text leaves it for a retry.
    const { count } = await this.ctx.db.prisma.accountDeletionChallenge.deleteMany({
      where: { userId: principal.userId, textHash: hashSecret(challenge), expiresAt: { gt: this.ctx.now() } },
    });
    if (count === 0) {
      throw new AppError('INVALID_CHALLENGE', 'The challenge is invalid or has expired', {
        suggestion: 'Call DELETE /me without a challenge for a new one, and send its challenge_text exactly',
      });
    }
    // The token used for this request stops working too.
    const outcome = await deleteUserAndData(this.ctx, principal.userId, [
      { jti: principal.tokenId, userId: principal.userId, expiresAt: new Date(principal.tokenExpiresAt * 1000) },
    ]);
    this.ctx.log.info({ userId: principal.userId, threatModels: outcome }, 'user deleted their account');
    return outcome;
  }
}
