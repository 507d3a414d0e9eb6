"""In a real IPython kernel, a call displays its result exactly once (and errors carry ename/evalue)."""

from __future__ import annotations

import json
import os
import queue
import sys
import tempfile
import unittest

from helpers import MODELS

try:
    from jupyter_client.manager import start_new_kernel
except ImportError:  # pragma: no cover
    start_new_kernel = None


def execute(kc, code: str) -> list[dict]:
    msg_id = kc.execute(code)
    outputs = []
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=120)
        except queue.Empty:
            raise AssertionError("kernel timed out") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        t = msg["msg_type"]
        if t in ("display_data", "execute_result", "error", "update_display_data"):
            outputs.append({"type": t, **msg["content"]})
        if t == "status" and msg["content"]["execution_state"] == "idle":
            return outputs


@unittest.skipIf(start_new_kernel is None, "jupyter_client missing")
class KernelDisplay(unittest.TestCase):
    def test_result_displayed_once_and_errors_are_clean(self) -> None:
        tmp = tempfile.mkdtemp(prefix="peragus-kernel-test-")
        km, kc = start_new_kernel(kernel_name="python3", cwd=tmp,
                                  env={**os.environ, "PERAGUS_PYSD_CACHE": os.path.join(tmp, ".cache")})
        try:
            mdl = json.dumps(str(MODELS / "coffee.mdl"))
            out = execute(kc, f"import peragus_pysd\nperagus_pysd.load_model({mdl})")
            mime = [o for o in out if "application/vnd.peragus.result+json" in o.get("data", {})]
            self.assertEqual(len(mime), 1, out)
            payload = mime[0]["data"]["application/vnd.peragus.result+json"]
            self.assertEqual(payload["function"], "load_model")
            mid = payload["result"]["model_id"]
            out = execute(kc, f"r = peragus_pysd.run_experiment({json.dumps(mid)}, {{'type': 'lhs', 'samples': 4, "
                              "'parameters': {'Cooling Time': [2, 9]}})\nr['run_count']")
            kinds = [o["type"] for o in out if "application/vnd.peragus.result+json" in o.get("data", {})]
            self.assertEqual(kinds, ["display_data"])
            self.assertEqual([o["data"]["text/plain"] for o in out if o["type"] == "execute_result"], ["4"])
            out = execute(kc, f"peragus_pysd.run_experiment({json.dumps(mid)}, {{'type': 'nope'}})")
            err = [o for o in out if o["type"] == "error"]
            self.assertEqual(err[0]["ename"], "UnsupportedExperimentError")
            self.assertIn("supported types", err[0]["evalue"])
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


if __name__ == "__main__":
    sys.exit(unittest.main())
