-- CreateTable
CREATE TABLE "repositories" (
    "id" UUID NOT NULL,
    "threat_model_id" UUID NOT NULL,
    "alias" INTEGER NOT NULL,
    "name" TEXT,
    "description" TEXT,
    "type" TEXT,
    "parameters" JSONB,
    "uri" TEXT NOT NULL,
    "include_in_report" BOOLEAN NOT NULL DEFAULT true,
    "timmy_enabled" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "repositories_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "repository_metadata" (
    "id" UUID NOT NULL,
    "repository_id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "value" TEXT NOT NULL,

    CONSTRAINT "repository_metadata_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "repositories_threat_model_id_alias_key" ON "repositories"("threat_model_id", "alias");

-- CreateIndex
CREATE UNIQUE INDEX "repository_metadata_repository_id_key_key" ON "repository_metadata"("repository_id", "key");

-- AddForeignKey
ALTER TABLE "repositories" ADD CONSTRAINT "repositories_threat_model_id_fkey" FOREIGN KEY ("threat_model_id") REFERENCES "threat_models"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "repository_metadata" ADD CONSTRAINT "repository_metadata_repository_id_fkey" FOREIGN KEY ("repository_id") REFERENCES "repositories"("id") ON DELETE CASCADE ON UPDATE CASCADE;
