-- AlterTable
ALTER TABLE "users" ADD COLUMN     "automation" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "client_credentials" (
    "id" UUID NOT NULL,
    "owner_id" UUID NOT NULL,
    "client_id" TEXT NOT NULL,
    "secret_hash" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "last_used_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3),

    CONSTRAINT "client_credentials_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "client_credential_tokens" (
    "jti" TEXT NOT NULL,
    "credential_id" UUID NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "client_credential_tokens_pkey" PRIMARY KEY ("jti")
);

-- CreateTable
CREATE TABLE "user_preferences" (
    "user_id" UUID NOT NULL,
    "preferences" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "user_preferences_pkey" PRIMARY KEY ("user_id")
);

-- CreateTable
CREATE TABLE "account_deletion_challenges" (
    "user_id" UUID NOT NULL,
    "text_hash" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "account_deletion_challenges_pkey" PRIMARY KEY ("user_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "client_credentials_client_id_key" ON "client_credentials"("client_id");

-- CreateIndex
CREATE INDEX "client_credentials_owner_id_idx" ON "client_credentials"("owner_id");

-- CreateIndex
CREATE INDEX "client_credential_tokens_credential_id_idx" ON "client_credential_tokens"("credential_id");

-- CreateIndex
CREATE INDEX "client_credential_tokens_expires_at_idx" ON "client_credential_tokens"("expires_at");

-- AddForeignKey
ALTER TABLE "client_credentials" ADD CONSTRAINT "client_credentials_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "client_credential_tokens" ADD CONSTRAINT "client_credential_tokens_credential_id_fkey" FOREIGN KEY ("credential_id") REFERENCES "client_credentials"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "user_preferences" ADD CONSTRAINT "user_preferences_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "account_deletion_challenges" ADD CONSTRAINT "account_deletion_challenges_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- TMI's built-in TMI Automation group (fixed id): automation accounts are its members.
INSERT INTO "groups" ("id", "provider", "group_name", "name", "description", "is_builtin")
VALUES ('00000000-0000-0000-0000-000000000004', 'tmi', 'tmi-automation', 'TMI Automation', 'Automation (service) accounts', true)
ON CONFLICT DO NOTHING;
