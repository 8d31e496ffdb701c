-- CreateTable
CREATE TABLE "threats" (
    "id" UUID NOT NULL,
    "threat_model_id" UUID NOT NULL,
    "alias" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "mitigation" TEXT,
    "diagram_id" UUID,
    "cell_id" UUID,
    "severity" TEXT,
    "severity_rank" INTEGER,
    "score" DOUBLE PRECISION,
    "priority" TEXT,
    "mitigated" BOOLEAN NOT NULL DEFAULT false,
    "status" TEXT,
    "threat_type" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "issue_uri" TEXT,
    "asset_id" UUID,
    "cwe_id" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "cvss" JSONB NOT NULL DEFAULT '[]',
    "ssvc" JSONB,
    "include_in_report" BOOLEAN NOT NULL DEFAULT true,
    "timmy_enabled" BOOLEAN NOT NULL DEFAULT true,
    "auto_generated" BOOLEAN NOT NULL DEFAULT false,
    "version" INTEGER NOT NULL DEFAULT 1,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "threats_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "threat_metadata" (
    "id" UUID NOT NULL,
    "threat_id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "value" TEXT NOT NULL,

    CONSTRAINT "threat_metadata_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "assets" (
    "id" UUID NOT NULL,
    "threat_model_id" UUID NOT NULL,
    "alias" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "type" TEXT NOT NULL,
    "criticality" TEXT,
    "classification" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "sensitivity" TEXT,
    "include_in_report" BOOLEAN NOT NULL DEFAULT true,
    "timmy_enabled" BOOLEAN NOT NULL DEFAULT true,
    "version" INTEGER NOT NULL DEFAULT 1,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "assets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "asset_metadata" (
    "id" UUID NOT NULL,
    "asset_id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "value" TEXT NOT NULL,

    CONSTRAINT "asset_metadata_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "threats_threat_model_id_created_at_idx" ON "threats"("threat_model_id", "created_at");

-- CreateIndex
CREATE INDEX "threats_asset_id_idx" ON "threats"("asset_id");

-- CreateIndex
CREATE UNIQUE INDEX "threats_threat_model_id_alias_key" ON "threats"("threat_model_id", "alias");

-- CreateIndex
CREATE UNIQUE INDEX "threat_metadata_threat_id_key_key" ON "threat_metadata"("threat_id", "key");

-- CreateIndex
CREATE UNIQUE INDEX "assets_threat_model_id_alias_key" ON "assets"("threat_model_id", "alias");

-- CreateIndex
CREATE UNIQUE INDEX "asset_metadata_asset_id_key_key" ON "asset_metadata"("asset_id", "key");

-- AddForeignKey
ALTER TABLE "threats" ADD CONSTRAINT "threats_threat_model_id_fkey" FOREIGN KEY ("threat_model_id") REFERENCES "threat_models"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "threats" ADD CONSTRAINT "threats_asset_id_fkey" FOREIGN KEY ("asset_id") REFERENCES "assets"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "threat_metadata" ADD CONSTRAINT "threat_metadata_threat_id_fkey" FOREIGN KEY ("threat_id") REFERENCES "threats"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "assets" ADD CONSTRAINT "assets_threat_model_id_fkey" FOREIGN KEY ("threat_model_id") REFERENCES "threat_models"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "asset_metadata" ADD CONSTRAINT "asset_metadata_asset_id_fkey" FOREIGN KEY ("asset_id") REFERENCES "assets"("id") ON DELETE CASCADE ON UPDATE CASCADE;
