#!/usr/bin/env bash
# Two Ray nodes on one machine, loopback only: a head (1 CPU) and a worker node (1 CPU) joined
# to it, then `senticlf predict --engine ray --address` against that cluster, then both stopped.
# Every step is bounded with `timeout`; the nodes are stopped on any exit.
#
#   bash benchmarks/ray_two_nodes.sh BUNDLE REVIEWS.parquet [OUT_FOLDER]
set -euo pipefail
bundle=${1:?bundle folder}
reviews=${2:?reviews (.parquet, .csv or .jsonl)}
out=${3:-$(mktemp -d)/two-nodes.parquet}
export RAY_USAGE_STATS_ENABLED=0
# Ray 2.5x `ray start --head` turns on token authentication: every node and the driver share
# one token, made here for this run only.
export RAY_AUTH_MODE=token
RAY_AUTH_TOKEN=$(python -c 'import secrets; print(secrets.token_hex(32))')
export RAY_AUTH_TOKEN
port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
head_dir=$(mktemp -d /tmp/ray-2n.XXXX)

# Not `ray stop`: it stops every Ray on the machine, other people's included. Both nodes'
# processes carry this run's own temp folder in their command line; stop exactly those ids.
stop() {
  pids=$(pgrep -f -- "$head_dir" || true)
  [ -n "$pids" ] && kill $pids 2>/dev/null; sleep 3
  pids=$(pgrep -f -- "$head_dir" || true)
  [ -n "$pids" ] && kill -9 $pids 2>/dev/null
  echo "stopped the two nodes"
}
trap stop EXIT

timeout 120 ray start --head --port "$port" --node-ip-address 127.0.0.1 --num-cpus 1 \
  --include-dashboard false --temp-dir "$head_dir" --disable-usage-stats
timeout 120 ray start --address "127.0.0.1:$port" --node-ip-address 127.0.0.1 --num-cpus 1 \
  --disable-usage-stats
timeout 60 python - "$port" <<'PY'
import sys, ray
ray.init(address=f"127.0.0.1:{sys.argv[1]}", logging_level="ERROR")
nodes = [n for n in ray.nodes() if n["Alive"]]
print(f"cluster: {len(nodes)} nodes, {ray.cluster_resources().get('CPU')} CPUs")
assert len(nodes) == 2, nodes
PY
start=$(date +%s)
timeout 600 senticlf predict "$reviews" --model "$bundle" --engine ray \
  --address "127.0.0.1:$port" --num-workers 2 --threads 1 --output "$out"
echo "predict on 2 nodes: $(( $(date +%s) - start )) s -> $out"
python - "$out" <<'PY'
import sys, pyarrow.parquet as pq
table = pq.read_table(sys.argv[1])
print(f"{table.num_rows} rows, {sum(v is None for v in table.column('predicted_label').to_pylist())} without a label")
PY
# The same job with the bundle shipped in the job's runtime_env instead of read by path.
start=$(date +%s)
timeout 600 senticlf predict "$reviews" --model "$bundle" --engine ray --ship-bundle \
  --address "127.0.0.1:$port" --num-workers 2 --threads 1 --output "$out.shipped"
echo "predict on 2 nodes, bundle shipped: $(( $(date +%s) - start )) s"
python - "$out" "$out.shipped" <<'PY'
import sys, pyarrow.parquet as pq
a, b = (pq.read_table(p).column("predicted_label").to_pylist() for p in sys.argv[1:])
print(f"shipped bundle gives the same labels: {a == b}")
PY
# Both nodes did work by construction: 2 workers x 1 CPU on two 1-CPU nodes fit one per node.
