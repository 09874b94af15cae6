#!/usr/bin/env bash
# One 60 s paced loadgen run (64 x 1,000 records every 2,000 ms, 30 pushes; PUSHES=N for longer) against a fresh
# PostgreSQL cluster started with extra settings, with vmstat 1 and Dirty sampled beside it;
# prints latency, WAL MB, table/index sizes, peak Dirty and write-back. Needs root (runuser postgres).
# usage: server/scripts/pg-paced-run.sh NAME "-c setting=value ..."   (LOADGEN=path to loadgen)
set -u
name=$1; opts=$2
bindir=$(ls -d /usr/lib/postgresql/*/bin|sort -V|tail -1)
d=/tmp/migru-pgrun-data-$name; port=55439
rm -rf $d; mkdir -p $d; chown postgres $d
runuser -u postgres -- $bindir/initdb -D $d -U postgres --auth=trust -E UTF8 >/dev/null
runuser -u postgres -- $bindir/pg_ctl -D $d -l $d/server.log -w -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on $opts" start >/dev/null
P="$bindir/psql -h 127.0.0.1 -p $port -U postgres -qtA"
$P -c "CREATE ROLE migru LOGIN PASSWORD 'migru'"; $P -c "CREATE DATABASE lg OWNER migru"
$P -c "show wal_sync_method; show wal_level; show checkpoint_timeout" | tr '\n' ' '; echo
lsn0=$($P -c "select pg_current_wal_lsn()")
w0=$(awk '/sda|vda|nvme0n1 /{print $10}' /proc/diskstats | head -1)
uptime
vmstat 1 > /tmp/migru-pgrun-vmstat-$name.txt & vp=$!
( while true; do grep Dirty: /proc/meminfo; sleep 1; done ) > /tmp/migru-pgrun-dirty-$name.txt & dp=$!
LOADGEN_SLOWEST=6 ${LOADGEN:-target/release/examples/loadgen} postgres://migru:migru@127.0.0.1:$port/lg 64 1000 ${PUSHES:-30} paced 2000 2>&1 | tail -12
kill $vp $dp
uptime
lsn1=$($P -c "select pg_current_wal_lsn()")
$P -c "select round(pg_wal_lsn_diff('$lsn1','$lsn0')/1e6,1) as wal_mb, pg_size_pretty(pg_database_size('lg'))" 
$P -d lg -c "select relname, pg_size_pretty(pg_total_relation_size(oid)), pg_size_pretty(pg_relation_size(oid)) from pg_class where relname in ('records','changes','records_pkey','records_family_ts','changes_pkey','changes_family_seq','changes_family_item')"
echo "maxDirty: $(awk '{print $2}' /tmp/migru-pgrun-dirty-$name.txt | sort -n | tail -1) kB; max bo/s: $(awk 'NR>2{print $10}' /tmp/migru-pgrun-vmstat-$name.txt | sort -n | tail -1); sum bo: $(awk 'NR>2{s+=$10}END{print s/1024}' /tmp/migru-pgrun-vmstat-$name.txt) MB"
runuser -u postgres -- $bindir/pg_ctl -D $d -w stop -m fast >/dev/null
rm -rf $d
rm -f /tmp/migru-pgrun-vmstat-$name.txt /tmp/migru-pgrun-dirty-$name.txt
