-- CreateTable
CREATE TABLE "threat_model_alias_counters" (
    "threat_model_id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "last_value" INTEGER NOT NULL,

    CONSTRAINT "threat_model_alias_counters_pkey" PRIMARY KEY ("threat_model_id","kind")
);

-- AddForeignKey
ALTER TABLE "threat_model_alias_counters" ADD CONSTRAINT "threat_model_alias_counters_threat_model_id_fkey" FOREIGN KEY ("threat_model_id") REFERENCES "threat_models"("id") ON DELETE CASCADE ON UPDATE CASCADE;
