-- A row per diagram cell (was one jsonb array per diagram): an edit writes only the cells it changes.

-- CreateTable
CREATE TABLE "diagram_cells" (
    "diagram_id" UUID NOT NULL,
    "id" TEXT NOT NULL,
    "position" BIGINT NOT NULL,
    "cell" JSONB NOT NULL,

    CONSTRAINT "diagram_cells_pkey" PRIMARY KEY ("diagram_id","id")
);

-- CreateIndex
CREATE UNIQUE INDEX "diagram_cells_diagram_id_position_key" ON "diagram_cells"("diagram_id", "position");

-- AddForeignKey
ALTER TABLE "diagram_cells" ADD CONSTRAINT "diagram_cells_diagram_id_fkey" FOREIGN KEY ("diagram_id") REFERENCES "diagrams"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The stored cells, in their order (ids are unique within a diagram: every write validated them).
INSERT INTO "diagram_cells" ("diagram_id", "id", "position", "cell")
SELECT d.id, c.value ->> 'id', c.ordinality, c.value
FROM "diagrams" d, jsonb_array_elements(d.cells) WITH ORDINALITY AS c(value, ordinality);

-- AlterTable
ALTER TABLE "diagrams" DROP COLUMN "cells";
