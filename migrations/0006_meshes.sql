-- 3D models: the facts of an asset's mesh (triangles, closed or not, volume, size), as
-- JSON, computed when the model is made or uploaded.

ALTER TABLE assets ADD COLUMN mesh_facts TEXT;
