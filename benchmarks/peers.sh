#!/usr/bin/env bash
# Install the benchmark peers that cannot share runyard's environment, each in its own
# virtualenv beside the checkout (none of them is needed by runyard or its tests):
#   Prefect 3.8.8 (its server needs a FastAPI older than runyard's dev environment pulls in)
#   BentoML 1.4.39 (serving benchmark)
# and Metaflow into the current environment (it has no conflicting pins).
# The benchmark scripts find them at these paths; override with --prefect-python /
# $RUNYARD_BENCH_PREFECT_PYTHON and $BENTOML_BIN.
#
#   bash benchmarks/peers.sh            # all
#   bash benchmarks/peers.sh prefect    # one
set -euo pipefail
root="${RUNYARD_PEERS_ROOT:-/work}"
want="${*:-prefect bentoml metaflow}"

for peer in $want; do
  case "$peer" in
    prefect)
      python -m venv "$root/.prefect-venv"
      # prefect 3.8.8 accepts fastapi >= 0.139; later FastAPI releases dropped the
      # `min_items` argument its server still passes, so pin the first accepted line.
      "$root/.prefect-venv/bin/pip" install -q "prefect==3.8.8" "fastapi>=0.139,<0.140"
      ;;
    bentoml)
      python -m venv "$root/.bentoml-venv"
      "$root/.bentoml-venv/bin/pip" install -q "bentoml==1.4.39" onnxruntime numpy
      ;;
    metaflow)
      python -m pip install -q "metaflow==2.19.39"
      ;;
    *)
      echo "unknown peer: $peer (prefect, bentoml, metaflow)" >&2
      exit 2
      ;;
  esac
  echo "installed $peer"
done
