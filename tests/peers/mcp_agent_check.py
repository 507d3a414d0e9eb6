"""Drives `peragus serve` with the official Python MCP client, as an agent would.

usage: mcp_agent_check.py URL TOKEN MODEL_FILE MODE   (MODE: schema | tasks)

Prints one JSON object (the findings) on stdout; the vitest test asserts on it.
"""

import asyncio
import json
import sys
import time

import jsonschema
import mcp.types as types
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.exceptions import McpError

URL, TOKEN, MODEL_FILE, MODE = sys.argv[1:5]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MODEL = open(MODEL_FILE, encoding="utf8").read()
HINTS = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")


def undescribed(schema, prefix=""):
    """Top-level parameters without a description."""
    return [prefix + k for k, v in (schema.get("properties") or {}).items() if not v.get("description")]


def validate(schema, value):
    cls = jsonschema.validators.validator_for(schema)
    errors = sorted(cls(schema).iter_errors(value), key=str)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]]


async def connect(headers=None, terminate=True):
    """An (entered) client: returns (session, get_session_id, closer)."""
    stack = []
    transport = streamablehttp_client(URL, headers={**AUTH, **(headers or {})}, terminate_on_close=terminate)
    read, write, get_sid = await transport.__aenter__()
    stack.append(transport)
    session = ClientSession(read, write)
    await session.__aenter__()
    stack.append(session)

    async def close():
        for cm in reversed(stack):
            await cm.__aexit__(None, None, None)

    return session, get_sid, close


async def error_of(coro):
    try:
        await coro
    except McpError as e:
        return e.error.message
    return None


async def schema_mode(out):
    session, _, close = await connect()
    try:
        await session.initialize()
        tools = (await session.list_tools()).tools
        schemas = {t.name: t.outputSchema for t in tools}
        out["tools"] = len(tools)
        out["no_output_schema"] = [t.name for t in tools if not t.outputSchema]
        out["no_description"] = [t.name for t in tools if not (t.description or "").strip()]
        out["no_annotations"] = [
            t.name for t in tools if t.annotations is None or any(getattr(t.annotations, h) is None for h in HINTS)
        ]
        out["undescribed_params"] = [f"{t.name}.{p}" for t in tools for p in undescribed(t.inputSchema)]
        run_tool = next(t for t in tools if t.name == "pysd_experiment_run")
        out["undescribed_experiment_fields"] = undescribed(
            run_tool.inputSchema["properties"]["experiment"], "experiment."
        )
        out["task_support"] = {
            t.name: t.execution.taskSupport for t in tools if t.execution and t.execution.taskSupport
        }

        invalid = {}
        results = {}

        async def call(name, args):
            # call_tool itself validates structuredContent against the tool's outputSchema.
            r = await session.call_tool(name, args)
            if r.isError:
                raise RuntimeError(f"{name}: {r.content}")
            problems = validate(schemas[name], r.structuredContent)
            if problems:
                invalid[name] = problems
            results[name] = r
            return r.structuredContent

        nb = await call("notebook_create", {"name": "py-agent", "experiment_id": "py-agent"})
        sid = nb["session_id"]
        loaded = await call("pysd_model_load", {"session_id": sid, "source": "models/sir.mdl", "content": MODEL})
        ran = await call(
            "pysd_experiment_run",
            {
                "session_id": sid,
                "model_id": loaded["model_id"],
                "experiment": {
                    "type": "lhs",
                    "samples": 20,
                    "seed": 3,
                    "parameters": {"Contact Rate": [4, 8], "Infectivity": {"values": [0.05, 0.1]}},
                    "metrics": [{"variable": "Infected", "stat": "max"}],
                },
            },
        )
        out["run_count"] = ran["run_count"]
        links = [c for c in results["pysd_experiment_run"].content if c.type == "resource_link"]
        out["run_links"] = [str(c.uri) for c in links]
        summary = next(str(c.uri) for c in links if str(c.uri).endswith("summary.json"))
        read = await session.read_resource(summary)
        out["summary_run_count"] = json.loads(read.contents[0].text)["run_count"]
        viz = await call("pysd_visualize", {"session_id": sid, "target": ran["results_dir"], "kind": "fan"})
        out["viz_inline_images"] = sum(1 for c in results["pysd_visualize"].content if c.type == "image")
        png = await session.read_resource(viz["artifacts"][0]["uri"])
        out["png_mime"] = png.contents[0].mimeType
        await call("notebook_export", {"session_id": sid, "format": "srcmd"})
        await call("notebook_list", {})
        await call("experiment_list", {"limit": 5})
        await call("notebook_restart", {"session_id": sid})
        out["invalid_results"] = invalid
        out["called"] = sorted(results)
    finally:
        await close()


async def wait_status(session, task_id, want, seen, messages, limit_s=600):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        task = await session.experimental.get_task(task_id)
        seen.append(task.status)
        if task.statusMessage:
            messages.append(task.statusMessage)
        if task.status in want:
            return task
        await asyncio.sleep(0.5)
    raise TimeoutError(f"task {task_id} never reached {want}; seen {seen[-5:]}")


def plan(grid, experiment=None):
    return {
        "model": {"source": "sir.mdl", "content": MODEL},
        "experiment": experiment or {"type": "single", "metrics": [{"variable": "Infected", "stat": "max"}]},
        "grid": grid,
        "parallel_limit": 1,
    }


# Enough work per experiment (about a second) that the plan still runs when the client comes back
# after its disconnect: three single runs once finished within that second (a warm zygote).
LASTING = {
    "type": "monte_carlo",
    "samples": 8000,
    "seed": 5,
    "parameters": {"Infectivity": {"dist": "uniform", "min": 0.03, "max": 0.1}},
    "metrics": [{"variable": "Infected", "stat": "max"}],
}


async def tasks_mode(out):
    # 1. Start a plan as a task, then drop the connection mid-plan (the session stays).
    a, get_sid, close_a = await connect(terminate=False)
    await a.initialize()
    created = await a.experimental.call_tool_as_task(
        "experiment_plan_run", plan({"Contact Rate": [3, 5, 7]}, LASTING), ttl=600_000
    )
    task_id = created.task.taskId
    mcp_session = get_sid()
    out["created_status"] = created.task.status
    await close_a()
    await asyncio.sleep(1)

    # 2. Reconnect to the same MCP session and poll to completion.
    b, _, close_b = await connect(headers={"mcp-session-id": mcp_session})
    seen, messages = [], []
    try:
        done = await wait_status(b, task_id, ("completed", "failed", "cancelled"), seen, messages)
        out["status_messages"] = messages[-3:]
        out["final_status"] = done.status
        out["seen_working"] = "working" in seen
        result = await b.experimental.get_task_result(task_id, types.CallToolResult)
        tools = {t.name: t for t in (await b.list_tools()).tools}
        out["plan_result"] = {k: result.structuredContent.get(k) for k in ("status", "total", "finished", "failed")}
        out["plan_result_invalid"] = validate(tools["experiment_plan_run"].outputSchema, result.structuredContent)
        plan_id = result.structuredContent["plan_id"]
        out["cancel_finished_error"] = await error_of(b.experimental.cancel_task(task_id))
    finally:
        await close_b()

    # 3. Another client (a new MCP session) cannot see the task; bad ids and arguments fail clearly.
    c, _, close_c = await connect()
    try:
        await c.initialize()
        out["foreign_task_error"] = await error_of(c.experimental.get_task(task_id))
        out["unknown_task_error"] = await error_of(c.experimental.get_task("f" * 32))
        out["unknown_result_error"] = await error_of(c.experimental.get_task_result("f" * 32, types.CallToolResult))
        ref = types.ResourceTemplateReference(type="ref/resource", uri="experiment://{id}/summary")
        completed = await c.complete(ref, {"name": "id", "value": plan_id[:12]})
        out["completion_values"] = completed.completion.values
        out["completion_unknown_arg_error"] = await error_of(c.complete(ref, {"name": "nope", "value": ""}))
        listed = await c.call_tool("experiment_list", {"plan_id": plan_id})
        out["plan_experiments"] = [e["status"] for e in listed.structuredContent["experiments"]]

        # 4. Cancel a running plan: it stops and leaves no container behind.
        # Twelve experiments one at a time: cancelled once the first one runs, so
        # however fast an experiment is, most of the plan is still to run.
        created = await c.experimental.call_tool_as_task(
            "experiment_plan_run", plan({"Contact Rate": list(range(1, 13))}), ttl=600_000
        )
        cancel_id = created.task.taskId
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = (await c.call_tool("experiment_list", {"limit": 20})).structuredContent["experiments"]
            if any(r["plan_id"] not in (None, plan_id) and r["status"] == "running" for r in rows):
                break
            await asyncio.sleep(0.1)
        cancelled = await c.experimental.cancel_task(cancel_id)
        out["cancel_status"] = cancelled.status
        out["after_cancel_status"] = (await c.experimental.get_task(cancel_id)).status
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            containers = (await c.call_tool("container_list", {})).structuredContent["containers"]
            rows = (await c.call_tool("experiment_list", {"limit": 20})).structuredContent["experiments"]
            mine = [r for r in rows if r["plan_id"] not in (None, plan_id)]
            if not containers and mine and all(r["status"] not in ("running", "queued") for r in mine):
                break
            await asyncio.sleep(1)
        out["containers_after_cancel"] = len(containers)
        out["cancelled_plan_statuses"] = sorted({r["status"] for r in mine})
    finally:
        await close_c()


async def main():
    out = {"mode": MODE}
    try:
        await (schema_mode(out) if MODE == "schema" else tasks_mode(out))
    except Exception as e:  # report, do not hide: the test fails on "error"
        out["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out))


asyncio.run(main())
