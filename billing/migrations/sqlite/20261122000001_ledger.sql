-- The metering ledger (SQLite). Quantities are integers in micro-units of `unit`;
-- hours are Unix seconds of the hour's start; months are YYYY-MM at UTC+5.

-- Every environment namespace seen, with the identity it last had.
CREATE TABLE environments (
    namespace         TEXT    NOT NULL PRIMARY KEY,
    agency            TEXT    NOT NULL,
    product           TEXT    NOT NULL,
    product_namespace TEXT    NOT NULL,
    environment       TEXT    NOT NULL,
    contour           TEXT    NOT NULL,
    class             TEXT    NOT NULL,
    first_hour        INTEGER NOT NULL,
    last_hour         INTEGER NOT NULL
);

-- One row per (environment, resource, hour); immutable once its month is closed.
CREATE TABLE ledger (
    namespace   TEXT    NOT NULL,
    resource    TEXT    NOT NULL,
    hour        INTEGER NOT NULL,
    month       TEXT    NOT NULL,
    agency      TEXT    NOT NULL,
    product     TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    unit        TEXT    NOT NULL,
    quantity    INTEGER NOT NULL,
    PRIMARY KEY (namespace, resource, hour)
);
CREATE INDEX ledger_by_month ON ledger (month, agency, product);

-- Corrections of closed months, booked in the first open month after them.
CREATE TABLE adjustments (
    namespace    TEXT    NOT NULL,
    resource     TEXT    NOT NULL,
    hour         INTEGER NOT NULL,
    booked_month TEXT    NOT NULL,
    month        TEXT    NOT NULL,
    agency       TEXT    NOT NULL,
    product      TEXT    NOT NULL,
    environment  TEXT    NOT NULL,
    unit         TEXT    NOT NULL,
    quantity     INTEGER NOT NULL,
    PRIMARY KEY (namespace, resource, hour, booked_month)
);
CREATE INDEX adjustments_by_booked_month ON adjustments (booked_month);

-- Per meter: every hour before next_hour has been collected.
CREATE TABLE watermarks (
    meter     TEXT    NOT NULL PRIMARY KEY,
    next_hour INTEGER NOT NULL
);

-- Closed months; a month is closed when it is at or before the latest row here.
CREATE TABLE months (
    month     TEXT    NOT NULL PRIMARY KEY,
    closed_at INTEGER NOT NULL
);

-- Milliseconds of each environment-hour covered by namespace samples.
CREATE TABLE coverage (
    namespace  TEXT    NOT NULL,
    hour       INTEGER NOT NULL,
    month      TEXT    NOT NULL,
    covered_ms INTEGER NOT NULL,
    PRIMARY KEY (namespace, hour)
);
CREATE INDEX coverage_by_month ON coverage (month);

-- Usage that is not billed: namespaces that are no environment, images in no catalog item.
CREATE TABLE data_quality (
    reason     TEXT    NOT NULL,
    resource   TEXT    NOT NULL,
    hour       INTEGER NOT NULL,
    month      TEXT    NOT NULL,
    unit       TEXT    NOT NULL,
    quantity   INTEGER NOT NULL,
    namespaces INTEGER NOT NULL,
    PRIMARY KEY (reason, resource, hour)
);

-- Hours a meter could not collect because Prometheus no longer kept them.
CREATE TABLE lost_hours (
    meter     TEXT    NOT NULL,
    from_hour INTEGER NOT NULL,
    to_hour   INTEGER NOT NULL,
    PRIMARY KEY (meter, from_hour)
);
