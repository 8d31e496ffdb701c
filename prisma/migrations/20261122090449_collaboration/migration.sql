-- CreateTable
CREATE TABLE "collaboration_sessions" (
    "id" UUID NOT NULL,
    "diagram_id" UUID NOT NULL,
    "threat_model_id" UUID NOT NULL,
    "host_id" UUID NOT NULL,
    "presenter_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_activity_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "collaboration_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "collaboration_participants" (
    "id" UUID NOT NULL,
    "session_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "instance_id" TEXT NOT NULL,
    "permissions" TEXT NOT NULL,
    "connected_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_activity_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "collaboration_participants_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "websocket_tickets" (
    "ticket_hash" TEXT NOT NULL,
    "session_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),

    CONSTRAINT "websocket_tickets_pkey" PRIMARY KEY ("ticket_hash")
);

-- CreateTable
CREATE TABLE "diagram_operations" (
    "diagram_id" UUID NOT NULL,
    "update_vector" BIGINT NOT NULL,
    "operation_id" UUID NOT NULL,
    "session_id" UUID,
    "user_id" UUID,
    "kind" TEXT NOT NULL,
    "cells" JSONB NOT NULL,
    "inverse" JSONB NOT NULL,
    "affected_cells" TEXT[],
    "target_vector" BIGINT,
    "undone_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "diagram_operations_pkey" PRIMARY KEY ("diagram_id","update_vector")
);

-- CreateIndex
CREATE UNIQUE INDEX "collaboration_sessions_diagram_id_key" ON "collaboration_sessions"("diagram_id");

-- CreateIndex
CREATE INDEX "collaboration_sessions_last_activity_at_idx" ON "collaboration_sessions"("last_activity_at");

-- CreateIndex
CREATE INDEX "collaboration_participants_session_id_idx" ON "collaboration_participants"("session_id");

-- CreateIndex
CREATE INDEX "collaboration_participants_instance_id_idx" ON "collaboration_participants"("instance_id");

-- CreateIndex
CREATE INDEX "websocket_tickets_expires_at_idx" ON "websocket_tickets"("expires_at");

-- CreateIndex
CREATE INDEX "diagram_operations_session_id_update_vector_idx" ON "diagram_operations"("session_id", "update_vector");

-- CreateIndex
CREATE UNIQUE INDEX "diagram_operations_diagram_id_operation_id_key" ON "diagram_operations"("diagram_id", "operation_id");

-- AddForeignKey
ALTER TABLE "collaboration_sessions" ADD CONSTRAINT "collaboration_sessions_diagram_id_fkey" FOREIGN KEY ("diagram_id") REFERENCES "diagrams"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "collaboration_sessions" ADD CONSTRAINT "collaboration_sessions_host_id_fkey" FOREIGN KEY ("host_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "collaboration_sessions" ADD CONSTRAINT "collaboration_sessions_presenter_id_fkey" FOREIGN KEY ("presenter_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "collaboration_participants" ADD CONSTRAINT "collaboration_participants_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "collaboration_sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "collaboration_participants" ADD CONSTRAINT "collaboration_participants_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "websocket_tickets" ADD CONSTRAINT "websocket_tickets_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "collaboration_sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "diagram_operations" ADD CONSTRAINT "diagram_operations_diagram_id_fkey" FOREIGN KEY ("diagram_id") REFERENCES "diagrams"("id") ON DELETE CASCADE ON UPDATE CASCADE;
