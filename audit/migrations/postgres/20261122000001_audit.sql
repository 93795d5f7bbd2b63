-- The audit trail (R-MON-02), PostgreSQL. Append-only: records are never updated, and
-- only the retention job deletes them, after archiving (it holds a permit row
-- meanwhile). Each record's hash chains the previous record's hash (tamper evidence).

CREATE TABLE audit_records (
    seq              BIGINT NOT NULL PRIMARY KEY,
    time_us          BIGINT NOT NULL,
    actor            TEXT   NOT NULL,
    action           TEXT   NOT NULL,
    object_kind      TEXT   NOT NULL,
    object_namespace TEXT   NOT NULL,
    object_name      TEXT   NOT NULL,
    object_uid       TEXT   NOT NULL,
    decision         TEXT   NOT NULL,
    reason           TEXT   NOT NULL,
    details          TEXT   NOT NULL,
    prev_hash        TEXT   NOT NULL,
    hash             TEXT   NOT NULL
);
CREATE INDEX audit_records_by_time ON audit_records (time_us);
CREATE INDEX audit_records_by_actor ON audit_records (actor, time_us);

-- The end of the chain: the last sequence number and hash appended. Appenders update
-- it first in their transaction, which serializes them across processes.
CREATE TABLE audit_head (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

-- The last record moved to the archive: the first online record chains from it.
CREATE TABLE audit_retained (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_retained (id, seq, hash) VALUES (1, 0, '');

-- Present only inside the retention job's deleting transaction.
CREATE TABLE audit_retention_permit (
    id INTEGER NOT NULL PRIMARY KEY
);

CREATE FUNCTION audit_records_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'audit_records is append-only (R-MON-02)';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM audit_retention_permit) THEN
        RAISE EXCEPTION 'audit_records are deleted only by the retention job (R-MON-02)';
    END IF;
    RETURN OLD;
END;
$$;

CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records
FOR EACH ROW EXECUTE FUNCTION audit_records_guard();
