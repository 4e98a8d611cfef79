-- The four-level grid reference (网格化管理) and each resident's grid.
CREATE TABLE hub.grids (
    grid_code     text PRIMARY KEY,          -- 网格编码
    district_code text NOT NULL,             -- 区县代码
    district      text NOT NULL,             -- 区县
    township      text NOT NULL,             -- 乡镇街道
    community     text NOT NULL,             -- 村社区
    grid_name     text NOT NULL,             -- 网格名称
    coverage      text NOT NULL,             -- 覆盖范围: 组:1-3 or 街路:康乐路|育才路
    loaded_at     timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE hub.residents ADD COLUMN grid_code text;  -- empty when the address cannot be placed
CREATE INDEX residents_grid ON hub.residents (grid_code);

-- For stewards: residents whose current address no grid covers (never guessed into one).
CREATE VIEW hub.unplaced_residents AS
SELECT resident_id, residence_address, life_status
  FROM hub.residents
 WHERE grid_code IS NULL AND residence_address IS NOT NULL;
