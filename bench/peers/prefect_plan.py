"""Prefect 3 peer: the same experiments as a Peragus plan, as Prefect runs them when each needs
its own process: one flow run per plan point, from a deployment on a *process* work pool, a
worker running K flow runs at a time (each a fresh Python process that imports Prefect and
PySD, translates the model and writes its run to Parquet). Prints one JSON line:
{"wall_s", "runs", "server_start_s", "failed"}.

wall_s runs from the flow runs' creation to the last one's end: the worker's own start is in
it, the API server's is not (a Prefect user keeps one running; server_start_s reports it).
The worker polls every second (PREFECT_WORKER_QUERY_SECONDS=1; Prefect's default is 10 s),
so the figure is not Prefect's polling.

Input (argv[1], JSON): {"model": PATH, "processes": K, "points": [{NAME: value}], "outcome": NAME,
"work": DIR}
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

args = json.loads(sys.argv[1])
work = os.path.abspath(args["work"])
os.makedirs(work, exist_ok=True)

FLOW = '''
from prefect import flow


@flow
def teacup(model_path: str, params: dict, outcome: str, out: str) -> int:
    import pysd

    model = pysd.read_vensim(model_path)
    df = model.run(params=params, return_columns=[outcome])
    df.to_parquet(out)
    return len(df)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


port = free_port()
api = f"http://127.0.0.1:{port}/api"
# Set in this process (the Prefect client below reads them) and so inherited by the server and worker.
os.environ.update({
    "PREFECT_HOME": os.path.join(work, "prefect-home"),
    "PREFECT_API_URL": api,
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_UI_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_WORKER_QUERY_SECONDS": "1",
    "PREFECT_WORKER_PREFETCH_SECONDS": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PYTHONWARNINGS": "ignore",
})
# Not the `prefect` script: set-up installs with another venv's pip, whose shebang it would carry.
prefect = [sys.executable, "-m", "prefect"]
logs = open(os.path.join(work, "prefect.log"), "w")


def wait_healthy(deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if server.poll() is not None:
            raise SystemExit(f"prefect server exited {server.returncode}: see {logs.name}")
        time.sleep(0.2)
    raise SystemExit(f"prefect server not healthy within {deadline_s} s: see {logs.name}")


t_server = time.perf_counter()
server = subprocess.Popen(
    [*prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
    stdout=logs, stderr=subprocess.STDOUT, start_new_session=True,
)
worker = None
try:
    wait_healthy(180)
    server_start_s = time.perf_counter() - t_server
    subprocess.run([*prefect, "work-pool", "create", "bench", "--type", "process"],
                   check=True, stdout=logs, stderr=subprocess.STDOUT)
    with open(os.path.join(work, "teacup_flow.py"), "w") as f:
        f.write(FLOW)

    from prefect import flow  # noqa: E402
    from prefect.client.orchestration import get_client  # noqa: E402
    from prefect.deployments import run_deployment  # noqa: E402

    flow.from_source(source=work, entrypoint="teacup_flow.py:teacup").deploy(
        name="teacup", work_pool_name="bench", print_next_steps=False
    )
    t0 = time.perf_counter()
    ids = []
    for i, point in enumerate(args["points"]):
        d = os.path.join(work, f"p{i}")
        os.makedirs(d, exist_ok=True)
        run = run_deployment(
            "teacup/teacup",
            parameters={"model_path": args["model"], "params": point, "outcome": args["outcome"],
                        "out": os.path.join(d, "runs.parquet")},
            timeout=0,
        )
        ids.append(run.id)
    worker = subprocess.Popen(
        [*prefect, "worker", "start", "--pool", "bench", "--type", "process",
         "--limit", str(args["processes"])],
        stdout=logs, stderr=subprocess.STDOUT, start_new_session=True,
    )
    with get_client(sync_client=True) as client:
        while True:
            states = [client.read_flow_run(i).state for i in ids]
            if all(s is not None and s.is_final() for s in states):
                break
            if worker.poll() is not None:
                raise SystemExit(f"prefect worker exited {worker.returncode}: see {logs.name}")
            time.sleep(0.2)
    wall = time.perf_counter() - t0
    failed = sum(1 for s in states if not s.is_completed())
    done = sum(1 for i in range(len(ids)) if os.path.exists(os.path.join(work, f"p{i}", "runs.parquet")))
    print(json.dumps({"wall_s": wall, "runs": done, "server_start_s": server_start_s, "failed": failed}))
finally:
    for p in (worker, server):
        if p is not None and p.poll() is None:
            os.killpg(p.pid, 15)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
