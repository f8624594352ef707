-- sqlite-test.sql: the first part of the guest test `sqlite`
-- (tests/sqlite/sqlite-test.c runs it with the sqlite3 shell on a new
-- database and compares the output line for line): tables, an index,
-- 10,000 rows in ten transactions, queries, an update and a delete, the
-- integrity check, read through a 256 MiB mapping of the database file.
.bail on
PRAGMA mmap_size=268435456;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v TEXT NOT NULL);
CREATE INDEX t_k ON t(k);
CREATE TABLE totals(k INTEGER PRIMARY KEY, n INTEGER NOT NULL, s INTEGER NOT NULL);
-- Ten transactions of 1,000 rows: inserting N into `batch` inserts the
-- rows N*1000+1 .. N*1000+1000 (its trigger), each in its own transaction.
CREATE TEMP TABLE seq AS WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<1000) SELECT i FROM c;
CREATE TEMP TABLE batch(n INTEGER NOT NULL);
CREATE TEMP TRIGGER fill AFTER INSERT ON batch BEGIN
  INSERT INTO t(id, k, v) SELECT new.n*1000 + i, ((new.n*1000 + i)*7919)%1000, printf('row-%05d', new.n*1000 + i) FROM seq;
END;
BEGIN; INSERT INTO batch VALUES (0); COMMIT; BEGIN; INSERT INTO batch VALUES (1); COMMIT; BEGIN; INSERT INTO batch VALUES (2); COMMIT;
BEGIN; INSERT INTO batch VALUES (3); COMMIT; BEGIN; INSERT INTO batch VALUES (4); COMMIT; BEGIN; INSERT INTO batch VALUES (5); COMMIT;
BEGIN; INSERT INTO batch VALUES (6); COMMIT; BEGIN; INSERT INTO batch VALUES (7); COMMIT; BEGIN; INSERT INTO batch VALUES (8); COMMIT;
BEGIN; INSERT INTO batch VALUES (9); COMMIT;
INSERT INTO totals SELECT k, count(*), sum(id) FROM t GROUP BY k;
SELECT 'rows', count(*), sum(id), min(v), max(v) FROM t;
SELECT 'k=7', count(*), (SELECT group_concat(id) FROM (SELECT id FROM t WHERE k=7 ORDER BY id)) FROM t WHERE k=7;
EXPLAIN QUERY PLAN SELECT id FROM t WHERE k=7;
SELECT 'totals', count(*), sum(n), sum(s), min(n), max(n) FROM totals;
SELECT 'join', count(*) FROM t JOIN totals USING (k) WHERE totals.n = 10;
UPDATE t SET v = v || '!' WHERE k < 10;
SELECT 'updated', changes();
DELETE FROM t WHERE id % 100 = 0;
SELECT 'deleted', changes();
SELECT 'after', count(*), sum(length(v)), sum(k) FROM t;
SELECT 'top', id, k, v FROM t ORDER BY k DESC, id LIMIT 3;
PRAGMA integrity_check;
PRAGMA mmap_size;
PRAGMA journal_mode;
