-- CreateTable
CREATE TABLE "webhook_subscriptions" (
    "id" UUID NOT NULL,
    "owner_id" UUID NOT NULL,
    "threat_model_id" UUID,
    "name" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "events" TEXT[],
    "secret" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'active',
    "challenges_sent" INTEGER NOT NULL DEFAULT 0,
    "publication_failures" INTEGER NOT NULL DEFAULT 0,
    "last_successful_use" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_subscriptions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_deliveries" (
    "id" UUID NOT NULL,
    "subscription_id" UUID NOT NULL,
    "event_type" TEXT NOT NULL,
    "threat_model_id" UUID,
    "object_type" TEXT,
    "object_id" UUID,
    "payload" JSONB NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_retry_at" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "last_status_code" INTEGER,
    "status_percent" INTEGER,
    "status_message" TEXT,
    "status_updated_at" TIMESTAMPTZ(3),
    "last_activity_at" TIMESTAMPTZ(3),
    "delivered_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "addon_id" UUID,
    "invoked_by_id" UUID,
    "accepted_signatures" TEXT[] DEFAULT ARRAY[]::TEXT[],

    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "addons" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "webhook_id" UUID NOT NULL,
    "description" TEXT,
    "icon" TEXT,
    "objects" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "threat_model_id" UUID,
    "parameters" JSONB NOT NULL DEFAULT '[]',
    "created_by_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "addons_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "addon_invocation_quotas" (
    "owner_id" UUID NOT NULL,
    "max_active_invocations" INTEGER NOT NULL,
    "max_invocations_per_hour" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "addon_invocation_quotas_pkey" PRIMARY KEY ("owner_id")
);

-- CreateTable
CREATE TABLE "webhook_quotas" (
    "owner_id" UUID NOT NULL,
    "max_subscriptions" INTEGER NOT NULL,
    "max_events_per_minute" INTEGER NOT NULL,
    "max_subscription_requests_per_minute" INTEGER NOT NULL,
    "max_subscription_requests_per_day" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_quotas_pkey" PRIMARY KEY ("owner_id")
);

-- CreateTable
CREATE TABLE "webhook_subscription_requests" (
    "id" UUID NOT NULL,
    "owner_id" UUID NOT NULL,
    "requested_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_subscription_requests_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "webhook_subscriptions_owner_id_created_at_idx" ON "webhook_subscriptions"("owner_id", "created_at");

-- CreateIndex
CREATE INDEX "webhook_subscriptions_status_idx" ON "webhook_subscriptions"("status");

-- CreateIndex
CREATE INDEX "webhook_deliveries_subscription_id_created_at_idx" ON "webhook_deliveries"("subscription_id", "created_at");

-- CreateIndex
CREATE INDEX "webhook_deliveries_status_last_activity_at_idx" ON "webhook_deliveries"("status", "last_activity_at");

-- CreateIndex
CREATE INDEX "webhook_deliveries_invoked_by_id_created_at_idx" ON "webhook_deliveries"("invoked_by_id", "created_at");

-- CreateIndex
CREATE INDEX "webhook_deliveries_addon_id_status_idx" ON "webhook_deliveries"("addon_id", "status");

-- CreateIndex
CREATE INDEX "addons_threat_model_id_idx" ON "addons"("threat_model_id");

-- CreateIndex
CREATE INDEX "addons_webhook_id_idx" ON "addons"("webhook_id");

-- CreateIndex
CREATE INDEX "webhook_subscription_requests_owner_id_requested_at_idx" ON "webhook_subscription_requests"("owner_id", "requested_at");

-- AddForeignKey
ALTER TABLE "webhook_subscriptions" ADD CONSTRAINT "webhook_subscriptions_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_subscription_id_fkey" FOREIGN KEY ("subscription_id") REFERENCES "webhook_subscriptions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_invoked_by_id_fkey" FOREIGN KEY ("invoked_by_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "addons" ADD CONSTRAINT "addons_webhook_id_fkey" FOREIGN KEY ("webhook_id") REFERENCES "webhook_subscriptions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "addon_invocation_quotas" ADD CONSTRAINT "addon_invocation_quotas_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_quotas" ADD CONSTRAINT "webhook_quotas_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
