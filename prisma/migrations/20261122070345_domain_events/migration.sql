-- CreateTable
CREATE TABLE "domain_events" (
    "id" UUID NOT NULL,
    "sequence" BIGSERIAL NOT NULL,
    "event_type" TEXT NOT NULL,
    "threat_model_id" UUID,
    "object_type" TEXT NOT NULL,
    "object_id" UUID NOT NULL,
    "actor_id" UUID,
    "request_id" TEXT,
    "data" JSONB NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "domain_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "domain_events_sequence_key" ON "domain_events"("sequence");

-- CreateIndex
CREATE INDEX "domain_events_threat_model_id_sequence_idx" ON "domain_events"("threat_model_id", "sequence");

-- CreateIndex
CREATE INDEX "domain_events_occurred_at_idx" ON "domain_events"("occurred_at");
