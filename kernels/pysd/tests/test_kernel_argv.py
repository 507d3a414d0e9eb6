"""The kernel's command line (peragus_pysd.kernel_launcher): our kernelspec's argv is read
without building traitlets' parser, to the same settings; every other argv is parsed as before.
Each case runs in a fresh Python."""

from __future__ import annotations

import shutil
import tempfile
import unittest

from helpers import fresh_python


class KernelspecArgv(unittest.TestCase):
    def setUp(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="peragus-kernel-argv-")
        self.addCleanup(shutil.rmtree, self.folder, ignore_errors=True)

    def test_the_kernelspec_argv_gives_what_the_parser_gives_without_building_it(self) -> None:
        out = fresh_python(
            """
            import json
            from ipykernel.kernelapp import IPKernelApp
            from traitlets.config.application import Application
            from peragus_pysd import kernel_launcher

            argv = [kernel_launcher.NO_HISTORY, "-f", "/run/k 1/kernel-abc.json"]
            parsed = IPKernelApp()
            parsed.parse_command_line(argv)

            built = []
            original = Application._create_loader
            Application._create_loader = lambda self, *a, **k: built.append(1) or original(self, *a, **k)
            fast = kernel_launcher.kernel_app_class()()
            fast.parse_command_line(argv)
            print(json.dumps({
                "parsed": repr(parsed.cli_config), "fast": repr(fast.cli_config),
                "same_config": parsed.config == fast.config,
                "connection_file": fast.connection_file, "history": repr(fast.config.HistoryManager.enabled),
                "extra": fast.extra_args, "argv": fast.argv, "parsers_built": len(built),
            }))
            """,
            self.folder,
        )
        self.assertEqual(out["fast"], out["parsed"])
        self.assertTrue(out["same_config"])
        self.assertEqual(out["connection_file"], "/run/k 1/kernel-abc.json")
        self.assertEqual(out["history"], "DeferredConfigString('False')")
        self.assertEqual(out["extra"], [])
        self.assertEqual(out["argv"], [out["argv"][0], "-f", "/run/k 1/kernel-abc.json"])
        self.assertEqual(out["parsers_built"], 0)

    def test_any_other_argv_goes_through_the_parser(self) -> None:
        out = fresh_python(
            """
            import json
            from peragus_pysd import kernel_launcher

            cases = {
                "extra_setting": [kernel_launcher.NO_HISTORY, "-f", "k.json", "--IPKernelApp.log_level=10"],
                "no_history_flag": ["-f", "k.json"],
                "flag_as_file": [kernel_launcher.NO_HISTORY, "-f", "--help-all"],
            }
            result = {}
            for name, argv in cases.items():
                result[name] = kernel_launcher.kernelspec_config(argv) is None
            app = kernel_launcher.kernel_app_class()()
            app.parse_command_line(cases["extra_setting"])
            result["log_level"] = app.log_level
            result["connection_file"] = app.connection_file
            print(json.dumps(result))
            """,
            self.folder,
        )
        self.assertTrue(out["extra_setting"])
        self.assertTrue(out["no_history_flag"])
        self.assertTrue(out["flag_as_file"])
        self.assertEqual(out["log_level"], 10)
        self.assertEqual(out["connection_file"], "k.json")


if __name__ == "__main__":
    unittest.main()
