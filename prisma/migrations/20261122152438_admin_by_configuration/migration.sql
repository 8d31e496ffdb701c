-- AlterTable
ALTER TABLE "users" ADD COLUMN     "admin_by_configuration" BOOLEAN NOT NULL DEFAULT false;
