"""The `openai` engine against a real OpenAI-compatible server: `transformers serve`, started here on a
loopback port and stopped after the module.

With greedy decoding a served model must give what the same model gives in-process: the same texts and
token counts, so `eval critic`, `best-of-n` (policy in-process, critic served) and `eval policy` write the
same records with `--engine openai` as with `--engine hf`. The served model is the hub-like tiny
Qwen2.5-VL (its random weights emit distinct tokens, not whitespace a server would strip). Then GRPO
with the served critic as its reward, a server that dies mid-run, and servers that answer wrongly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from data_converters.prompts import user_prompt
from rl_critic.cli import main
from rl_critic.generation.engines import load_engine
from rl_critic.generation.settings import EngineSettings, SamplingSettings
from rl_critic.models.loader import InferenceModelArguments, resolve_model_path
from rl_critic.models.tiny import ensure_tiny_model
from tests.conftest import shape_image
from tests.servers import StubServer, stop, transformers_serve

pytest.importorskip("openai", reason="the openai engine tests need `pip install rl-critic[serve]` (in the dev extras)")
pytest.importorskip("fastapi", reason="`transformers serve` needs transformers[serving] (in the dev extras)")

ROOT = Path(__file__).resolve().parent.parent
SERVED = "tiny-like-qwen2.5-vl-7b-instruct"
QUESTIONS = str(ROOT / "examples/questions.jsonl")
CPU = ["--use_cpu", "true", "--bf16", "false", "--gradient_checkpointing", "false", "--report_to", "none"]


@pytest.fixture(scope="module")
def server():
    path = resolve_model_path(SERVED)
    with transformers_serve(path) as process:
        process.model = path
        yield process


@pytest.fixture(scope="module")
def eval_data(tmp_path_factory) -> Path:
    """Converted pairwise eval rows (the input of `eval critic`)."""
    root = tmp_path_factory.mktemp("served-eval")
    assert (
        main(["make-synthetic", "--n", "6", "--kind", "pairwise", "--seed", "1", "--out", str(root / "s.parquet")]) == 0
    )
    argv = ["convert", "--source", "llava-critic-pairwise", "--input", str(root / "s.parquet"), "--task", "eval"]
    assert main([*argv, "--out", str(root / "eval")]) == 0
    return root / "eval"


def _without_timing(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if "second" not in k and "time" not in k} for r in records]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_served_greedy_generation_equals_in_process(server):
    args = InferenceModelArguments(model_name_or_path=server.model)
    hf = load_engine(EngineSettings(), args)
    served = load_engine(EngineSettings(engine="openai", base_url=server.base_url), args)
    conversations = [user_prompt("What colour is the shape?", 0), user_prompt("What colour is the shape?", 1)]
    images = [[], [shape_image()]]
    settings = SamplingSettings(max_new_tokens=10)
    expected = hf.generate_counted(conversations, images, settings)
    assert served.generate_counted(conversations, images, settings) == expected
    assert expected[0] != expected[1]  # the image reached the model, in both engines
    assert served.requests == 2


def test_eval_critic_served_writes_the_in_process_records(server, eval_data, tmp_path):
    base = ["eval", "critic", "--data", str(eval_data), "--max_new_tokens", "6", "--chunk", "4"]
    base += ["--unreadable_ok", "true"]  # the untrained tiny critic: the same unreadable answers both ways
    assert main([*base, "--model", SERVED, "--out", str(tmp_path / "hf" / "report.json")]) == 0
    served = ["--engine", "openai", "--base_url", server.base_url, "--model", server.model]
    assert main([*base, *served, "--out", str(tmp_path / "served" / "report.json")]) == 0
    expected = _jsonl(tmp_path / "hf" / "report.judgments.jsonl")
    assert len(expected) == 6
    assert _without_timing(_jsonl(tmp_path / "served" / "report.judgments.jsonl")) == _without_timing(expected)
    hf_report = json.loads((tmp_path / "hf" / "report.json").read_text())
    served_report = json.loads((tmp_path / "served" / "report.json").read_text())
    assert served_report["pairwise"] == hf_report["pairwise"]


def test_a_served_critic_is_probed_as_the_in_process_one_is(server, eval_data, tmp_path):
    """`--probes` over `--engine openai`: the same perturbed requests, the same probe report as in-process."""
    base = ["eval", "critic", "--data", str(eval_data), "--max_new_tokens", "6", "--probes", "all"]
    base += ["--unreadable_ok", "true"]
    base += ["--probe_samples", "2", "--temperature", "0"]
    assert main([*base, "--model", SERVED, "--out", str(tmp_path / "hf" / "report.json")]) == 0
    served = ["--engine", "openai", "--base_url", server.base_url, "--model", server.model]
    assert main([*base, *served, "--out", str(tmp_path / "served" / "report.json")]) == 0
    hf = json.loads((tmp_path / "hf" / "report.json").read_text())["probes"]
    remote = json.loads((tmp_path / "served" / "report.json").read_text())["probes"]
    assert list(remote) == ["position", "length", "master_key", "injection", "image", "stability"]
    for name in ("position", "length", "master_key", "injection", "image"):  # greedy: the same verdicts
        assert remote[name] == hf[name], name
    assert remote["stability"]["n"] == hf["stability"]["n"] == 2 * hf["position"]["n"]


def test_best_of_n_with_a_served_critic_picks_what_the_in_process_critic_picks(server, tmp_path):
    base = ["best-of-n", "--model", "tiny", "--input", QUESTIONS, "--n", "3", "--max_new_tokens", "4"]
    base += ["--critic_max_new_tokens", "6", "--strategy", "knockout", "--critic_unreadable_ok", "true"]
    assert main([*base, "--critic_model", SERVED, "--out", str(tmp_path / "hf.jsonl")]) == 0
    served = ["--critic_engine", "openai", "--critic_base_url", server.base_url, "--critic_model", server.model]
    assert main([*base, *served, "--out", str(tmp_path / "served.jsonl")]) == 0
    expected = _jsonl(tmp_path / "hf.jsonl")
    assert len(expected) == 4 and all(record["num_judgments"] == 2 for record in expected)
    assert _jsonl(tmp_path / "served.jsonl") == expected


def test_eval_policy_with_a_served_policy_scores_what_in_process_scores(server, tmp_path):
    base = ["eval", "policy", "--data", QUESTIONS, "--max_new_tokens", "4", "--n", "1"]
    assert main([*base, "--model", SERVED, "--out", str(tmp_path / "hf" / "report.json")]) == 0
    served = ["--engine", "openai", "--base_url", server.base_url, "--model", server.model]
    assert main([*base, *served, "--out", str(tmp_path / "served" / "report.json")]) == 0
    hf_report = json.loads((tmp_path / "hf" / "report.json").read_text())
    served_report = json.loads((tmp_path / "served" / "report.json").read_text())
    assert served_report["questions"] == hf_report["questions"] == 4
    assert served_report["first"] == hf_report["first"]
    hf_records = _jsonl(tmp_path / "hf" / "report.judgments.jsonl")
    assert _without_timing(_jsonl(tmp_path / "served" / "report.judgments.jsonl")) == _without_timing(hf_records)


def test_grpo_with_the_served_critic_as_reward_trains_and_saves(server, tmp_path):
    out = tmp_path / "run"
    argv = ["train", "grpo", "--config", str(ROOT / "recipes/tiny/grpo_policy_critic.yaml")]
    argv += ["--reward_funcs", "critic_judge", "tests.helpers.length_reward", "--reward_weights", "1.0", "1.0"]
    argv += ["--critic_engine", "openai", "--critic_base_url", server.base_url, "--critic_model", server.model]
    argv += ["--critic_max_new_tokens", "6", "--max_steps", "2", "--save_strategy", "steps", "--save_steps", "2"]
    assert main([*argv, "--output_dir", str(out), *CPU]) == 0
    history = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    steps = [entry for entry in history if "critic_judge/judgments" in entry]
    assert len(steps) == 2 and all(entry["critic_judge/judgments"] == 24 for entry in steps)  # 2 groups x 12
    assert all(entry["critic_judge/server_failure"] == 0.0 for entry in steps)
    assert all(torch.isfinite(torch.tensor(entry["loss"])) for entry in history if "loss" in entry)
    before = load_file(str(ensure_tiny_model("qwen2_5_vl") / "model.safetensors"))
    after = load_file(str(out / "model.safetensors"))
    assert sum(not torch.equal(before[k], after[k]) for k in before if k in after) > 0
    generated = main(["generate", "--model", str(out), "--prompt", "Colour?", "--max_new_tokens", "2", "--json"])
    assert generated == 0  # the trained policy reloads and answers


@pytest.mark.slow  # two more server starts (~30 s): make test-slow
def test_a_server_killed_mid_run_stops_eval_critic_with_one_line_and_the_run_resumes(eval_data, tmp_path, capsys):
    from rl_critic.generation import served as served_module

    path = resolve_model_path(SERVED)
    out = tmp_path / "report.json"
    argv = ["eval", "critic", "--data", str(eval_data), "--max_new_tokens", "4", "--chunk", "2"]
    argv += ["--engine", "openai", "--model", path, "--max_retries", "1", "--out", str(out)]
    calls = []
    original = served_module.OpenAIEngine.generate_counted
    with transformers_serve(path) as process:

        def dies_after_the_first_chunk(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                stop(process)
            return original(self, *args, **kwargs)

        served_module.OpenAIEngine.generate_counted = dies_after_the_first_chunk
        try:
            code = main([*argv, "--base_url", process.base_url])
        finally:
            served_module.OpenAIEngine.generate_counted = original
    assert code == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("rl-critic eval: error: the server at") and "stopped answering" in error
    journal = tmp_path / ".report.json.journal.jsonl"
    assert len(journal.read_text().splitlines()) == 1 + 2  # settings + the first chunk's 2 rows
    assert not out.exists()
    with transformers_serve(path) as process:  # back, on another port: the same run goes on
        assert main([*argv, "--base_url", process.base_url]) == 0
    assert len(_jsonl(tmp_path / "report.judgments.jsonl")) == 6 and not journal.exists()


@pytest.mark.parametrize("failure", ["500", "drip", "junk-notjson"])
def test_an_unreachable_critic_scores_neutral_then_stops_grpo_with_a_checkpoint(failure, tmp_path, capsys):
    """The dead server of a GRPO run (HTTP 500s, or an answer that drips in forever: issue 43): each failed reward
    call scores its completions 0.5 and is logged; at critic_max_failed_calls in a row the run saves a checkpoint
    and stops with one line."""
    from rl_critic.generation.served import OpenAIEngine

    with StubServer("models" if failure == "500" else failure) as stub:  # the start-up check passes, then no answer
        out = tmp_path / "run"
        argv = ["train", "grpo", "--config", str(ROOT / "recipes/tiny/grpo_policy_critic.yaml")]
        argv += ["--reward_funcs", "critic_judge", "tests.helpers.length_reward"]
        argv += ["--reward_weights", "1.0", "1.0", "--critic_engine", "openai", "--critic_base_url", stub.base_url]
        argv += ["--critic_model", "other-model" if failure == "500" else "m", "--critic_max_retries", "0"]
        argv += ["--critic_max_failed_calls", "2", "--critic_request_timeout", "1"]
        argv += ["--max_steps", "5", "--output_dir", str(out), *CPU]
        original = OpenAIEngine.check_model

        def then_fail(self):
            original(self)
            stub.mode = failure

        OpenAIEngine.check_model = then_fail
        try:
            code = main(argv)
        finally:
            OpenAIEngine.check_model = original
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("this step's completions score 0.5") == 2
    last = err.strip().splitlines()[-1]
    assert "the critic stopped answering" in last and f"saved {out}/checkpoint-2" in last
    assert "--resume_from_checkpoint true" in last
    assert (out / "checkpoint-2" / "trainer_state.json").exists() and not (out / "model.safetensors").exists()
    history = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    assert [entry["critic_judge/server_failure"] for entry in history if "critic_judge/server_failure" in entry] == [
        1.0,
        1.0,
    ]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("500", "answered HTTP 500: engine crashed"),
        ("html", "is not an OpenAI-compatible API"),
        ("models", "has no model 'tiny-critic'; it serves: other-model"),
    ],
)
def test_a_server_that_answers_wrongly_is_one_line(mode, expected, tmp_path, capsys):
    with StubServer(mode) as stub:
        argv = ["generate", "--engine", "openai", "--base_url", stub.base_url, "--model", "tiny-critic"]
        code = main([*argv, "--prompt", "Colour?", "--max_retries", "0"])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rl-critic generate: error:") and expected in err[0], err


def test_no_server_at_the_url_and_flag_mistakes_are_one_line(tmp_path, capsys):
    from tests.servers import free_port

    cases = [
        (["--engine", "openai", "--base_url", f"http://127.0.0.1:{free_port()}/v1"], "no OpenAI-compatible server"),
        (["--engine", "openai"], "engine openai needs a base URL"),
        (["--base_url", "http://127.0.0.1:1/v1"], "a base URL is for engine openai"),
    ]
    for flags, expected in cases:
        code = main(["generate", "--model", "m", *flags, "--prompt", "Colour?", "--max_retries", "0"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(err) == 1 and expected in err[0], (flags, err)


def test_the_api_key_comes_from_the_environment_and_never_shows(monkeypatch, capsys):
    from rl_critic.generation.served import OpenAIEngine

    monkeypatch.setenv("MY_CRITIC_KEY", "sk-secret-123")
    with StubServer("500") as stub:
        settings = EngineSettings(engine="openai", base_url=stub.base_url, api_key_env="MY_CRITIC_KEY", max_retries=0)
        engine = OpenAIEngine.connect(settings, "m")
        assert engine.client.api_key == "sk-secret-123"
        code = main(
            ["generate", "--engine", "openai", "--base_url", stub.base_url, "--model", "m", "--prompt", "x"]
            + ["--api_key_env", "MY_CRITIC_KEY", "--max_retries", "0"]
        )
    captured = capsys.readouterr()
    assert code == 1 and "sk-secret-123" not in captured.err + captured.out


def test_a_server_that_echoes_the_key_and_a_url_with_a_password_print_no_secret(monkeypatch, tmp_path):
    """Issue 43, secrets: a 401 quoting the `Authorization` header back, and credentials inside `--base_url`, reach
    the user's terminal as `***` (every line goes through `rl_critic.ground.errors.redacted`)."""
    from tests.cli_batch import Command, run_commands

    with StubServer("echo-401") as stub:
        port_url = stub.base_url.replace("http://", "http://alice:hunter2-pass@")
        argv = ["generate", "--engine", "openai", "--model", "m", "--prompt", "x", "--max_retries", "0"]
        results = run_commands(
            [
                Command([*argv, "--base_url", stub.base_url], env={"OPENAI_API_KEY": "sk-live-0123456789"}),
                Command([*argv, "--base_url", port_url]),
            ]
        )
    echoed, with_password = results
    assert echoed.returncode == 1 and with_password.returncode == 1
    for result in results:
        shown = result.stdout + result.stderr
        assert "sk-live-0123456789" not in shown and "hunter2-pass" not in shown, shown[-800:]
    assert echoed.last_line.endswith(
        "answered HTTP 401: invalid credentials: Authorization: Bearer *** (max_retries 0)"
    )
    assert "http://***@127.0.0.1:" in with_password.last_line


def test_a_server_that_drips_its_answer_is_cut_at_the_whole_answer_deadline():
    """Issue 43, waits: headers, then a byte every 0.2 s (every read within `request_timeout`): the request's
    deadline for its whole answer ends the command in seconds, with one line, not never."""
    from tests.cli_batch import Command, run_commands

    with StubServer("drip") as stub:
        argv = ["generate", "--engine", "openai", "--base_url", stub.base_url, "--model", "m", "--prompt", "x"]
        [result] = run_commands([Command([*argv, "--request_timeout", "2", "--max_retries", "0"], timeout=60)])
    assert not result.timed_out and result.seconds < 20, result.seconds
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-1500:]
    assert result.last_line.endswith("sent no complete answer within 2 s (request_timeout 2 s x 1 tries)")


def test_answers_that_cannot_be_used_are_one_line_never_a_traceback():
    """Issue 43, answers taken on trust: a 200 that is no JSON, not UTF-8, content that is a list or a number, a
    token count that is a word, negative or 10^30: one line each (in GRPO: the unreachable-critic path, above)."""
    from contextlib import ExitStack

    from tests.cli_batch import Command, run_commands
    from tests.servers import JUNK

    with ExitStack() as stack:
        stubs = [stack.enter_context(StubServer(f"junk-{kind}")) for kind in JUNK]
        argv = ["generate", "--engine", "openai", "--model", "m", "--prompt", "x", "--max_retries", "0"]
        results = run_commands([Command([*argv, "--base_url", stub.base_url], timeout=60) for stub in stubs])
    expected = {
        "notjson": "answered with no readable JSON (JSONDecodeError",
        "nonutf8": "answered with no readable JSON (UnicodeDecodeError",
        "content-list": "answered a chat completion whose content is a list, not a text",
        "content-number": "answered a chat completion whose content is a number, not a text",
        "tokens-word": "reported 'many' completion tokens for a request of at most 64: not an answer to trust",
        "tokens-negative": "reported '-5' completion tokens",
        "tokens-huge": "reported '1000000000000000000000000000000' completion tokens",
    }
    for kind, result in zip(JUNK, results):
        assert result.returncode == 1 and "Traceback" not in result.stderr, (kind, result.stderr[-1500:])
        assert result.last_line.startswith("rl-critic generate: error: the server at ") and expected[kind] in (
            result.last_line
        ), (kind, result.last_line)


def test_lines_name_what_happened_and_the_flags_the_user_wrote(tmp_path):
    """Issue 43, misleading lines: a 429 whose Retry-After the client will not wait for says so instead of "after
    N retries"; a critic setting missing is named by its critic_ flag; `critic_model: policy` cannot go to a server."""
    from tests.cli_batch import Command, run_commands

    with StubServer("429-wait") as stub:
        argv = ["generate", "--engine", "openai", "--base_url", stub.base_url, "--model", "m", "--prompt", "x"]
        results = run_commands(
            [
                Command([*argv, "--max_retries", "2"], timeout=60),
                Command(
                    ["best-of-n", "--model", "tiny", "--input", str(ROOT / "examples/questions.jsonl")]
                    + ["--out", str(tmp_path / "b.jsonl"), "--critic_engine", "openai"]
                ),
                Command(
                    ["train", "grpo", "--config", str(ROOT / "recipes/tiny/grpo_policy_critic.yaml")]
                    + ["--critic_model", "policy", "--critic_engine", "openai", "--critic_base_url", stub.base_url]
                    + ["--output_dir", str(tmp_path / "g"), "--max_steps", "1", *CPU]
                ),
            ]
        )
    limited, unnamed, policy = results
    assert limited.last_line.endswith(
        "answered HTTP 429: rate limited (max_retries 2; it asks to wait 3600 s (Retry-After), longer than the client "
        "waits)"
    ), limited.last_line
    assert limited.seconds < 30
    assert unnamed.last_line.endswith(
        "engine openai needs a base URL (e.g. --critic_base_url http://127.0.0.1:8000/v1)"
    )
    assert policy.last_line.endswith(
        "critic_model: policy judges with the policy being trained, in this process; a served or vLLM critic "
        "(critic_engine openai) is another model: name it in critic_model"
    )
    assert stub.requests <= 2  # the start-up model check, and no judgment sent to a model named "policy"


def test_a_row_the_server_refuses_is_named_and_the_evaluation_goes_on(tmp_path):
    """Issue 43: one row refused with an HTTP 400 (not about its length) stopped the whole evaluation at that chunk,
    on every rerun, without naming the row; now it is that row's skip, named with the server's words."""
    from datasets import Dataset

    from data_converters.convert import convert
    from data_converters.layouts import features
    from data_converters.synthetic import synthetic_rows
    from tests.cli_batch import Command, run_commands

    rows = list(synthetic_rows(6, "pairwise", seed=4))
    first = rows[0]["conversations"][0]
    first["value"] = first["value"].replace("Question: [", "Question: [REFUSE-ME ", 1)
    Dataset.from_list(rows, features=features()).to_parquet(str(tmp_path / "raw.parquet"))
    convert("llava-critic-pairwise", str(tmp_path / "raw.parquet"), "eval", str(tmp_path / "eval"))
    out = tmp_path / "r.json"
    with StubServer("sft-critic-refusing") as stub:
        argv = ["eval", "critic", "--engine", "openai", "--base_url", stub.base_url, "--model", "sft-critic"]
        [result] = run_commands([Command([*argv, "--data", str(tmp_path / "eval"), "--out", str(out)], timeout=120)])
    assert result.returncode == 0, result.stderr[-1500:]
    report = json.loads(out.read_text())
    skipped = report["skipped_too_long"]
    assert skipped["rows"] == 1 and skipped["first"].startswith(f"{rows[0]['id']}: prompt refused by the server: ")
    assert skipped["first"].endswith("HTTP 400: this prompt breaks our content rules")
    assert report["pairwise"]["n"] == report["rows"] - 1
    assert f"e.g. {rows[0]['id']}: prompt refused by the server: HTTP 400" in result.stdout
