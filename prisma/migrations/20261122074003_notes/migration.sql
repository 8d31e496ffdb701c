-- CreateTable
CREATE TABLE "notes" (
    "id" UUID NOT NULL,
    "threat_model_id" UUID NOT NULL,
    "alias" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "description" TEXT,
    "include_in_report" BOOLEAN NOT NULL DEFAULT true,
    "timmy_enabled" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "notes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "note_metadata" (
    "id" UUID NOT NULL,
    "note_id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "value" TEXT NOT NULL,

    CONSTRAINT "note_metadata_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "notes_threat_model_id_alias_key" ON "notes"("threat_model_id", "alias");

-- CreateIndex
CREATE UNIQUE INDEX "note_metadata_note_id_key_key" ON "note_metadata"("note_id", "key");

-- AddForeignKey
ALTER TABLE "notes" ADD CONSTRAINT "notes_threat_model_id_fkey" FOREIGN KEY ("threat_model_id") REFERENCES "threat_models"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "note_metadata" ADD CONSTRAINT "note_metadata_note_id_fkey" FOREIGN KEY ("note_id") REFERENCES "notes"("id") ON DELETE CASCADE ON UPDATE CASCADE;
