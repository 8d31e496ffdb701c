-- CreateTable
CREATE TABLE "user_api_quotas" (
    "owner_id" UUID NOT NULL,
    "max_requests_per_minute" INTEGER NOT NULL,
    "max_requests_per_hour" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "user_api_quotas_pkey" PRIMARY KEY ("owner_id")
);

-- CreateTable
CREATE TABLE "system_settings" (
    "key" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "description" TEXT,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_by_id" UUID,

    CONSTRAINT "system_settings_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "groups" (
    "id" UUID NOT NULL,
    "provider" TEXT NOT NULL,
    "group_name" TEXT NOT NULL,
    "name" TEXT,
    "description" TEXT,
    "is_builtin" BOOLEAN NOT NULL DEFAULT false,
    "first_used" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "usage_count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "groups_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "group_members" (
    "id" UUID NOT NULL,
    "group_id" UUID NOT NULL,
    "subject_type" TEXT NOT NULL,
    "user_id" UUID,
    "member_group_id" UUID,
    "added_by_id" UUID,
    "added_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "notes" TEXT,

    CONSTRAINT "group_members_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "groups_provider_group_name_key" ON "groups"("provider", "group_name");

-- CreateIndex
CREATE INDEX "group_members_user_id_idx" ON "group_members"("user_id");

-- CreateIndex
CREATE UNIQUE INDEX "group_members_group_id_user_id_key" ON "group_members"("group_id", "user_id");

-- CreateIndex
CREATE UNIQUE INDEX "group_members_group_id_member_group_id_key" ON "group_members"("group_id", "member_group_id");

-- AddForeignKey
ALTER TABLE "user_api_quotas" ADD CONSTRAINT "user_api_quotas_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "system_settings" ADD CONSTRAINT "system_settings_modified_by_id_fkey" FOREIGN KEY ("modified_by_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "group_members" ADD CONSTRAINT "group_members_group_id_fkey" FOREIGN KEY ("group_id") REFERENCES "groups"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "group_members" ADD CONSTRAINT "group_members_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "group_members" ADD CONSTRAINT "group_members_member_group_id_fkey" FOREIGN KEY ("member_group_id") REFERENCES "groups"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "group_members" ADD CONSTRAINT "group_members_added_by_id_fkey" FOREIGN KEY ("added_by_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- TMI's built-in groups, with their fixed ids; their members follow the users' role flags.
INSERT INTO "groups" ("id", "provider", "group_name", "name", "description", "is_builtin")
VALUES
  ('00000000-0000-0000-0000-000000000000', '*', 'everyone', 'Everyone', 'Every authenticated user', true),
  ('00000000-0000-0000-0000-000000000001', 'tmi', 'security-reviewers', 'Security Reviewers', 'Users who review threat models', true),
  ('00000000-0000-0000-0000-000000000002', 'tmi', 'administrators', 'Administrators', 'Users who administer this server', true);
