-- Every collaborative edit rewrites a diagram's cells, compressing the whole value again: lz4 does that several
-- times faster than PostgreSQL's default (pglz). A server built without lz4 (the embedded one) keeps its default.
DO $$
BEGIN
  ALTER TABLE "diagrams" ALTER COLUMN "cells" SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'lz4 is not available here: diagram cells keep the default compression';
END $$;
