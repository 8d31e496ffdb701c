-- AlterTable
ALTER TABLE "collaboration_sessions" ADD COLUMN     "removed_user_ids" UUID[] DEFAULT ARRAY[]::UUID[];
