// The DuckDB side of the engine benchmark: the same CSV, the same queries.
//   node duck.mjs CSV DBFILE LO HI  -> one JSON object on stdout
import { DuckDBInstance } from '@duckdb/node-api';
import fs from 'node:fs';

const [csv, dbfile, lo, hi] = process.argv.slice(2);
const now = () => Number(process.hrtime.bigint()) / 1e9;

for (const f of [dbfile, dbfile + '.wal']) fs.rmSync(f, { force: true });
const inst = await DuckDBInstance.create(dbfile);
const con = await inst.connect();
const threads = (await con.runAndReadAll("SELECT current_setting('threads')")).getRows()[0][0];

let t0 = now();
await con.run(`CREATE TABLE t AS SELECT * FROM read_csv('${csv}', header = false, delim = ',',
    columns = {'k': 'BIGINT', 'ts': 'TIMESTAMP', 'v': 'DOUBLE', 's': 'VARCHAR'})`);
await con.run('CHECKPOINT');
const load_s = now() - t0;
const rows = Number((await con.runAndReadAll('SELECT count(*) FROM t')).getRows()[0][0]);

async function best(sql) {
  let bestS = Infinity, val;
  for (let i = 0; i < 3; i++) {
    const t = now();
    const r = await con.runAndReadAll(sql);
    const dt = now() - t;
    if (dt < bestS) bestS = dt;
    val = r.getRows()[0];
  }
  return [bestS, val];
}
const [full_s, full] = await best('SELECT sum(v) FROM t');
const [range_s, range] = await best(`SELECT sum(v), count(*) FROM t WHERE k >= ${lo} AND k < ${hi}`);
con.closeSync?.();
let disk = fs.statSync(dbfile).size;
if (fs.existsSync(dbfile + '.wal')) disk += fs.statSync(dbfile + '.wal').size;

console.log(JSON.stringify({
  threads: Number(threads), rows, load_s, load_rows_per_s: rows / load_s,
  scan_full_s: full_s, scan_full_rows_per_s: rows / full_s, scan_full_sum: Number(full[0]),
  scan_range_s: range_s, scan_range_rows: Number(range[1]), scan_range_sum: Number(range[0]),
  disk_bytes: disk,
}));
