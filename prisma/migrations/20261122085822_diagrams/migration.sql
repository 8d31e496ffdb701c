-- CreateTable
CREATE TABLE "diagrams" (
    "id" UUID NOT NULL,
    "threat_model_id" UUID NOT NULL,
    "alias" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "type" TEXT NOT NULL DEFAULT 'DFD-1.0.0',
    "description" TEXT,
    "include_in_report" BOOLEAN NOT NULL DEFAULT true,
    "timmy_enabled" BOOLEAN NOT NULL DEFAULT true,
    "cells" JSONB NOT NULL DEFAULT '[]',
    "image" JSONB,
    "color_palette" JSONB,
    "update_vector" BIGINT NOT NULL DEFAULT 0,
    "version" INTEGER NOT NULL DEFAULT 1,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "diagrams_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "diagram_metadata" (
    "id" UUID NOT NULL,
    "diagram_id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "value" TEXT NOT NULL,

    CONSTRAINT "diagram_metadata_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "diagrams_threat_model_id_alias_key" ON "diagrams"("threat_model_id", "alias");

-- CreateIndex
CREATE UNIQUE INDEX "diagram_metadata_diagram_id_key_key" ON "diagram_metadata"("diagram_id", "key");

-- AddForeignKey
ALTER TABLE "diagrams" ADD CONSTRAINT "diagrams_threat_model_id_fkey" FOREIGN KEY ("threat_model_id") REFERENCES "threat_models"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "diagram_metadata" ADD CONSTRAINT "diagram_metadata_diagram_id_fkey" FOREIGN KEY ("diagram_id") REFERENCES "diagrams"("id") ON DELETE CASCADE ON UPDATE CASCADE;
