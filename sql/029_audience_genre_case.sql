-- Audience estimates match genres case-insensitively (lower(btrim(genre)) = ANY(normalised genres),
-- sql/queries/audiences.sql): the filter's index is on that expression. Conditional like 015's indexes.
DO $$
BEGIN
  IF to_regclass('fs_person_affinity_genre_raw') IS NOT NULL THEN
    CREATE INDEX IF NOT EXISTS audiences_fs_genre_norm ON fs_person_affinity_genre_raw (tenant_id, lower(btrim(genre)));
  END IF;
END $$;
