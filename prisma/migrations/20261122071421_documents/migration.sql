-- CreateTable
CREATE TABLE "documents" (
    "id" UUID NOT NULL,
    "threat_model_id" UUID NOT NULL,
    "alias" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "uri" TEXT NOT NULL,
    "include_in_report" BOOLEAN NOT NULL DEFAULT true,
    "timmy_enabled" BOOLEAN NOT NULL DEFAULT true,
    "version" INTEGER NOT NULL DEFAULT 1,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "documents_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "documents_threat_model_id_created_at_idx" ON "documents"("threat_model_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "documents_threat_model_id_alias_key" ON "documents"("threat_model_id", "alias");

-- AddForeignKey
ALTER TABLE "documents" ADD CONSTRAINT "documents_threat_model_id_fkey" FOREIGN KEY ("threat_model_id") REFERENCES "threat_models"("id") ON DELETE CASCADE ON UPDATE CASCADE;
