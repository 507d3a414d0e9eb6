"""Where the CPU of a plan goes, by process kind (issue 10's profile; a tool, not a bench suite).

    PERAGUS_HOME=$(mktemp -d) kernels/pysd/.venv/bin/python bench/profile_plan.py OUT.json \
        node bin/peragus.js run PLAN.json --json

Runs the command, samples /proc every 10 ms and attributes each descendant's CPU ticks to a kind
(host, node role, bwrap, setpriv, zygote and its forks, cold kernel, plan check), and reports the
total from a cgroup of its own when it can make one (root: v1 cpuacct or v2), else RUSAGE_CHILDREN.
Processes living less than a sample are missed, so the attributed sum is a lower bound.
"""

import collections
import json
import os
import resource
import subprocess
import sys
import time

CLK = os.sysconf("SC_CLK_TCK")


def kind(cmd: list[str]) -> str:
    s = " ".join(cmd)
    if cmd[0].endswith("bwrap"):
        return "bwrap"
    if cmd[0] == "setpriv":
        return "node role (still setpriv)"
    if "peragus_pysd.zygote" in s:
        return "zygote + its forks (kernels, plan check)"
    if "kernel_launcher" in s:
        return "kernel (cold)"
    if (" node " in s or "node-role.cjs" in s) and "--socket" in s:
        return "node role"
    if " run " in s and "peragus" in s:
        return "host"
    return "other: " + os.path.basename(cmd[0])


def cgroup() -> tuple[str, str] | None:
    for base, stat in (("/sys/fs/cgroup/cpuacct", "cpuacct.usage"), ("/sys/fs/cgroup", "cpu.stat")):
        if os.path.exists(os.path.join(base, "cgroup.procs")):
            try:
                d = os.path.join(base, f"peragus-profile-{os.getpid()}")
                os.mkdir(d)
                return d, stat
            except OSError:
                pass
    return None


def main() -> None:
    cg = cgroup()

    def enter() -> None:
        if cg:
            with open(os.path.join(cg[0], "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    seen: dict[int, list] = {}
    t0 = time.perf_counter()
    with open(sys.argv[1], "w") as out:
        p = subprocess.Popen(sys.argv[2:], stdout=out, preexec_fn=enter)
        while p.poll() is None:
            kids: dict[int, list[int]] = collections.defaultdict(list)
            ticks: dict[int, int] = {}
            for e in os.listdir("/proc"):
                if not e.isdigit():
                    continue
                try:
                    st = open(f"/proc/{e}/stat").read()
                except OSError:
                    continue
                f = st[st.rindex(")") + 2 :].split()
                kids[int(f[1])].append(int(e))
                ticks[int(e)] = int(f[11]) + int(f[12])
            stack = [p.pid]
            while stack:
                q = stack.pop()
                stack.extend(kids.get(q, []))
                if q not in ticks:
                    continue
                if q not in seen:
                    try:
                        cmd = [c.decode() for c in open(f"/proc/{q}/cmdline", "rb").read().split(b"\0") if c]
                    except OSError:
                        cmd = []
                    seen[q] = [kind(cmd) if cmd else "?", 0]
                seen[q][1] = max(seen[q][1], ticks[q])
            time.sleep(0.01)
    wall = time.perf_counter() - t0
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    total, source = r.ru_utime + r.ru_stime, "rusage"
    if cg:
        time.sleep(0.5)
        text = open(os.path.join(*cg)).read()
        total = int(text) / 1e9 if cg[1] == "cpuacct.usage" else int(dict(x.split() for x in text.splitlines())["usage_usec"]) / 1e6
        source = "cgroup"
        try:
            os.rmdir(cg[0])
        except OSError:
            pass
    by: collections.Counter = collections.Counter()
    n: collections.Counter = collections.Counter()
    for k, t in seen.values():
        by[k] += t / CLK
        n[k] += 1
    print(json.dumps({
        "wall_s": round(wall, 2),
        "cpu_total_s": round(total, 2),
        "cpu_total_from": source,
        "attributed_s_and_processes": {k: [round(v, 2), n[k]] for k, v in by.most_common()},
        "load_average_1min": os.getloadavg()[0],
    }, indent=1))


if __name__ == "__main__":
    main()
