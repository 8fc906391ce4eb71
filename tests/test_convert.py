"""`rl-critic convert` end to end: labels, order randomisation, rejects, determinism, every source, TRL."""

from __future__ import annotations

import base64
import io
import json
import os
import re
from pathlib import Path

import pytest
from datasets import Dataset, Features, Image, List, Value
from PIL import Image as PILImage

from data_converters.convert import convert
from data_converters.edge_cases import edge_case_rows
from data_converters.io import dataset_card, load_any, write_dataset
from data_converters.layouts import features
from data_converters.synthetic import synthetic_rows
from rl_critic.ground.errors import UserError
from tests.conftest import shape_image

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "data" / "llava-critic-sample.parquet"


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> str:
    """300 synthetic rows in every spelling + the edge cases, as a 113k-schema parquet file."""
    path = tmp_path_factory.mktemp("data") / "sample.parquet"
    rows = list(synthetic_rows(300, "both", seed=1)) + edge_case_rows()
    Dataset.from_list(rows, features=features()).to_parquet(str(path))
    return str(path)


def _originals(path: str) -> dict[str, dict]:
    """Input rows by id, images left undecoded (the sample holds a deliberately corrupt one)."""
    dataset = Dataset.from_parquet(path).cast_column("image", Image(decode=False))
    return {row["id"]: row for row in dataset}


def _right_answer(gpt: str) -> str | None:
    """The synthetic rationales name the right answer; recover it to check labels independently."""
    match = re.search(r"The right answer is: (.+)", gpt) or re.search(r"The image shows that (.+?)\.(?: |$)", gpt)
    if not match:
        return None
    text = match.group(1).strip()
    return text if text.endswith(".") else text[0].upper() + text[1:] + "."


def _preferred(row) -> str:
    return row["responses"][int(row["solution"]) - 1]


def test_every_row_is_labelled_right_and_randomised_honestly(sample, tmp_path):
    originals = _originals(sample)
    runs = []
    for seed in (0, 1):
        convert("llava-critic-pointwise", sample, "eval", str(tmp_path / f"s{seed}"), seed=seed)
        runs.append({r["id"]: r for r in load_any(str(tmp_path / f"s{seed}"))})
    assert runs[0].keys() == runs[1].keys() and len(runs[0]) > 250
    checked = swaps = 0
    for row_id, row in runs[0].items():
        other = runs[1][row_id]
        text = row["prompt"][0]["content"][-1]["text"]
        if row["task"] == "pointwise":
            assert row["solution"] == other["solution"] and 0 <= int(row["solution"]) <= 100
            continue
        # The responses appear in the prompt in the order of `responses`.
        assert text.index(row["responses"][0]) <= text.rindex(row["responses"][1])
        if row["solution"] == "tie":
            assert other["solution"] == "tie"
            continue
        # Randomisation moves responses but never changes which text is preferred.
        assert _preferred(row) == _preferred(other)
        swaps += row["swapped"] != other["swapped"]
        right = _right_answer(originals[row_id]["conversations"][1]["value"])
        if right is not None:
            assert _preferred(row) == right, row_id
            checked += 1
    assert checked > 150 and swaps > 50


def test_rejections_are_counted_with_reasons(sample, tmp_path):
    summary = convert("llava-critic-pairwise", sample, "grpo", str(tmp_path / "out"))
    rejected = [json.loads(line) for line in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()]
    reasons = {r["id"]: r["reason"] for r in rejected}
    assert reasons["edge-reject-no-verdict"] == "no verdict in the gpt turn"
    assert reasons["edge-reject-empty-question"] == "empty question"
    assert reasons["edge-reject-missing-response"] == "missing response"
    assert reasons["edge-reject-corrupt-image"] == "corrupt image"
    assert reasons["edge-reject-missing-image"] == "missing image"
    assert reasons["edge-tie-equal"] == "tie (dropped; --keep-ties keeps it)"
    assert summary["rows_read"] == summary["rows_written"] + len(rejected)
    assert sum(summary["rejected"].values()) == len(rejected)
    assert summary["labels"]["1"] + summary["labels"]["2"] + summary["scores"]["count"] == summary["rows_written"]
    kept = {r["id"]: r for r in load_any(str(tmp_path / "out"))}
    for row_id, label in [
        ("edge-brackets", "1"),
        ("edge-non-english", "2"),
        ("edge-quoted-marker", "2"),
        ("edge-newlines-markdown", "1"),
        ("edge-verdict-the-first", "1"),
        ("edge-not-equal-then-verdict", "1"),
    ]:
        row = kept[row_id]
        assert (row["solution"] if not row["swapped"] else {"1": "2", "2": "1"}[row["solution"]]) == label, row_id
    assert kept["edge-brackets"]["question"] == "What does [the sign] say?"


def test_strict_refuses_and_writes_nothing(sample, tmp_path):
    with pytest.raises(UserError, match=r"rejected and --strict is set; first: row \d+"):
        convert("llava-critic-pairwise", sample, "grpo", str(tmp_path / "out"), strict=True)
    assert list(tmp_path.iterdir()) == []


def test_same_seed_gives_byte_identical_folders(sample, tmp_path):
    for name in ("a", "b"):
        convert("llava-critic-pairwise", sample, "grpo", str(tmp_path / name), seed=3, num_proc=2 if name == "b" else 1)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_keep_ties_limit_and_disk_format(sample, tmp_path):
    summary = convert(
        "llava-critic-pairwise", sample, "grpo", str(tmp_path / "d"), keep_ties=True, limit=60, out_format="disk"
    )
    assert summary["rows_read"] == 60 and summary["labels"].get("tie", 0) > 0
    loaded = load_any(str(tmp_path / "d"))
    assert len(loaded) == summary["rows_written"] and (tmp_path / "d" / "state.json").exists()
    # A save_to_disk folder is also valid input: every row is read (and, grpo rows having no `chosen`, every
    # row rejected, which is an error rather than an empty output).
    with pytest.raises(UserError, match=rf"every row \({summary['rows_written']}\) was rejected, nothing written"):
        convert("preference", str(tmp_path / "d"), "dpo", str(tmp_path / "e"))
    assert not (tmp_path / "e").exists()


def test_sft_keeps_the_original_prompt_and_rationale(sample, tmp_path):
    convert("llava-critic-pairwise", sample, "sft", str(tmp_path / "sft"), limit=20)
    originals = _originals(sample)
    for row in load_any(str(tmp_path / "sft")):
        human, gpt = (turn["value"] for turn in originals[row["id"]]["conversations"])
        user, assistant = row["messages"]
        assert user["content"][0]["type"] == "image"
        assert user["content"][1]["text"] == human.removeprefix("<image>\n")
        assert assistant == {"role": "assistant", "content": [{"type": "text", "text": gpt}]}


def test_dpo_prefers_the_right_answer(sample, tmp_path):
    summary = convert("llava-critic-pairwise", sample, "dpo", str(tmp_path / "dpo"))
    originals = _originals(sample)
    rows = list(load_any(str(tmp_path / "dpo")))
    assert len(rows) == summary["rows_written"] > 100
    assert "tie (no preferred response for dpo)" in summary["rejected"]
    for row in rows:
        right = _right_answer(originals[row["id"]]["conversations"][1]["value"])
        if right is not None:
            assert row["chosen"][0]["content"][0]["text"] == right
        question = row["prompt"][0]["content"][1]["text"]
        assert question and question in originals[row["id"]]["conversations"][0]["value"]


def test_shipped_sample_covers_every_spelling():
    assert SAMPLE.exists() and SAMPLE.stat().st_size <= 2_000_000
    rows = list(_originals(str(SAMPLE)).values())
    humans = "\n".join(r["conversations"][0]["value"] for r in rows)
    gpts = "\n".join(r["conversations"][1]["value"] for r in rows)
    for marker in (
        "The first response:",
        "Response 1:",
        "Response A:",
        "[Assistant 1]",
        "<|The Start of Assistant A's Answer|>",
    ):
        assert marker in humans
    for verdict in (
        "[first]",
        "[second]",
        "[1]",
        "[2]",
        "[A]",
        "[B]",
        "equally good",
        "Final Score:",
        "[[A>>B]]",
        "[[A>B]]",
        "[[A=B]]",
        "[[B>A]]",
        "[[B>>A]]",
    ):
        assert verdict in gpts
    assert any(re.match(r"\d+ \d+\n", r["conversations"][1]["value"]) for r in rows)


# --- benchmark sources, each in its real schema -----------------------------------------------------


def _png(colour=(200, 0, 0)) -> bytes:
    buffer = io.BytesIO()
    shape_image(56, 56, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return str(path)


def test_vl_rewardbench(tmp_path):
    rows = [
        {
            "id": "wildvision-battle_1",
            "query": "What?",
            "response": ["good", "bad"],
            "human_ranking": [0, 1],
            "image": {"bytes": _png(), "path": None},
        },
        {
            "id": "RLAIF-V_2",
            "query": "Where?",
            "response": ["bad", "good"],
            "human_ranking": [1, 0],
            "image": {"bytes": _png(), "path": None},
        },
        {
            "id": "mathverse_3",
            "query": "How?",
            "response": ["same", "same too"],
            "human_ranking": [0, 0],
            "image": {"bytes": _png(), "path": None},
        },
    ]
    feats = Features(
        {
            "id": Value("string"),
            "query": Value("string"),
            "response": List(Value("string")),
            "human_ranking": List(Value("int64")),
            "image": Image(),
        }
    )
    Dataset.from_list(rows, features=feats).to_parquet(str(tmp_path / "vl.parquet"))
    summary = convert("vl-rewardbench", str(tmp_path / "vl.parquet"), "eval", str(tmp_path / "out"))
    out = {r["id"]: r for r in load_any(str(tmp_path / "out"))}
    assert summary["labels"] == {"1": 1, "2": 1, "tie": 1}
    assert [out[i]["group"] for i in ("wildvision-battle_1", "RLAIF-V_2", "mathverse_3")] == [
        "general",
        "hallucination",
        "reasoning",
    ]
    assert _preferred(out["wildvision-battle_1"]) == "good" and _preferred(out["RLAIF-V_2"]) == "good"


def test_multimodal_rewardbench_with_relative_image_paths(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(_png())
    rows = [
        {
            "ID": "m1",
            "Text": "Q1",
            "Image": "images/a.png",
            "Output1": "x",
            "Output2": "y",
            "Better": "Output2",
            "Category": "safety",
        },
        {
            "ID": "m2",
            "Text": "Q2",
            "Image": "images/missing.png",
            "Output1": "x",
            "Output2": "y",
            "Better": "Output1",
            "Category": "safety",
        },
    ]
    summary = convert("multimodal-rewardbench", _jsonl(tmp_path / "mm.jsonl", rows), "eval", str(tmp_path / "out"))
    assert summary["rejected"] == {"image file not found: images/missing.png": 1}
    [row] = load_any(str(tmp_path / "out"))
    assert _preferred(row) == "y" and row["group"] == "safety" and row["image"].size == (56, 56)


def test_mm_rlhf_rewardbench(tmp_path):
    rows = [
        {
            "id": f"r{i}",
            "prompt": f"Q{i}",
            "chosen": "good",
            "rejected": "bad",
            "image": {"bytes": _png(), "path": None},
        }
        for i in range(8)
    ]
    feats = Features(
        {
            "id": Value("string"),
            "prompt": Value("string"),
            "chosen": Value("string"),
            "rejected": Value("string"),
            "image": Image(),
        }
    )
    Dataset.from_list(rows, features=feats).to_parquet(str(tmp_path / "mm.parquet"))
    convert("mm-rlhf-rewardbench", str(tmp_path / "mm.parquet"), "eval", str(tmp_path / "out"))
    rows_out = list(load_any(str(tmp_path / "out")))
    assert all(_preferred(r) == "good" for r in rows_out)
    assert 0 < sum(r["swapped"] for r in rows_out) < 8  # both orders occur


def test_mllm_judge_pair_and_score(tmp_path):
    data_uri = "data:image/png;base64," + base64.b64encode(_png()).decode()
    pairs = [
        {"instruction": "Q", "image_path": data_uri, "answer1": "a1", "answer2": "a2", "human_answer": h}
        for h in ("A", "B", "C", "D")
    ]
    summary = convert("mllm-judge-pair", _jsonl(tmp_path / "pair.jsonl", pairs), "eval", str(tmp_path / "p"))
    assert summary["labels"] == {"1": 1, "2": 1, "tie": 1}
    assert summary["rejected"] == {"unknown human_answer 'd' (expected A, B or C)": 1}
    scores = [{"instruction": "Q", "image_path": data_uri, "answer": "a", "human": h} for h in (1, 5, 7)]
    summary = convert("mllm-judge-score", _jsonl(tmp_path / "score.jsonl", scores), "grpo", str(tmp_path / "s"))
    assert summary["scores"] == {"count": 2, "min": 1.0, "max": 5.0, "mean": 3.0}
    row = next(iter(load_any(str(tmp_path / "s"))))
    assert row["scale"] == "1-5" and "score from 1 to 5" in row["prompt"][0]["content"][1]["text"]


def test_generic_preference_multi_image_and_messages(tmp_path):
    for name, colour in (("a.png", (200, 0, 0)), ("b.png", (0, 0, 200))):
        (tmp_path / name).write_bytes(_png(colour))
    rows = [
        {
            "prompt": [
                {
                    "role": "user",
                    "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "Compare."}],
                }
            ],
            "chosen": [{"role": "assistant", "content": "left is red"}],
            "rejected": "left is blue",
            "images": ["a.png", "b.png"],
        },
    ]
    convert("preference", _jsonl(tmp_path / "pref.jsonl", rows), "grpo", str(tmp_path / "out"))
    [row] = load_any(str(tmp_path / "out"))
    assert row["question"] == "Compare." and len(row["images"]) == 2
    assert [part["type"] for part in row["prompt"][0]["content"]] == ["image", "image", "text"]
    assert _preferred(row) == "left is red"


def test_bad_inputs_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="input not found"):
        convert("preference", str(tmp_path / "nope.jsonl"), "grpo", str(tmp_path / "o"))
    with pytest.raises(UserError, match="input not found: data/nope.jsonl"):  # one slash, yet not a hub id
        convert("preference", "data/nope.jsonl", "grpo", str(tmp_path / "o"))
    with pytest.raises(UserError, match="unknown source"):
        convert("nope", str(tmp_path), "grpo", str(tmp_path / "o"))
    (tmp_path / "o").mkdir()
    with pytest.raises(UserError, match="output folder exists"):
        convert("preference", str(tmp_path), "grpo", str(tmp_path / "o"))


# --- TRL --------------------------------------------------------------------------------------------


def test_grpo_output_trains_one_step_in_trl(sample, tmp_path):
    import torch
    from trl import GRPOConfig, GRPOTrainer

    from rl_critic.models.loader import ModelArguments, load_model_and_processor

    convert("llava-critic-pairwise", sample, "grpo", str(tmp_path / "grpo"), limit=16)
    dataset = load_any(str(tmp_path / "grpo"))
    model, processor = load_model_and_processor(ModelArguments(model_name_or_path="tiny"))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}

    def length_reward(completions, solution, **kwargs):  # varies, so advantages are non-zero
        assert set(solution) <= {"1", "2"}
        return [float(len(c[0]["content"]) % 7) for c in completions]

    args = GRPOConfig(
        output_dir=str(tmp_path / "run"),
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=8,
        max_steps=1,
        learning_rate=1e-2,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        report_to=[],
        logging_steps=1,
        save_strategy="no",
    )
    trainer = GRPOTrainer(
        model=model, reward_funcs=length_reward, args=args, train_dataset=dataset, processing_class=processor
    )
    trainer.train()
    loss = trainer.state.log_history[0]["loss"]
    assert loss == loss and abs(loss) < 1e6
    assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_sft_r1_answers_are_rewarded_by_the_grpo_reward(sample, tmp_path):
    """The R1 warm start teaches exactly what GRPO rewards: same prompt, same randomised label, right format."""
    import rewards

    convert("llava-critic-pairwise", sample, "sft-r1", str(tmp_path / "sft"), seed=5)
    convert("llava-critic-pairwise", sample, "eval", str(tmp_path / "eval"), seed=5)
    targets = {r["id"]: r for r in load_any(str(tmp_path / "eval"))}
    rows = list(load_any(str(tmp_path / "sft")))
    assert len(rows) == len(targets) > 250
    for row in rows:
        target = targets[row["id"]]
        user, assistant = row["messages"]
        assert user["content"][-1]["text"] == target["prompt"][0]["content"][-1]["text"]
        answer = assistant["content"][0]["text"]
        reward = rewards.critic_reward(
            completions=[answer], solution=[target["solution"]], task=[target["task"]], scale=[target["scale"]]
        )
        assert reward == [pytest.approx(1.0)], (row["id"], answer)


def test_synthetic_question_kinds_can_be_chosen():
    assert {r["source"] for r in synthetic_rows(30, "pairwise", seed=3, questions=("colour",))} == {"synthetic-colour"}
    position = list(synthetic_rows(30, "both", seed=3, questions=("position",)))
    assert {r["source"] for r in position} == {"synthetic-position"}
    with pytest.raises(ValueError, match="questions must be among"):
        list(synthetic_rows(1, questions=("size",)))


def test_synthetic_pair_reasoning_checks_each_response_against_the_image():
    """The rationale states the fact, then each response's claim and whether it is right, in prompt order."""
    rows = [r for r in synthetic_rows(60, "pairwise", seed=4, tie_rate=0.0)]
    assert len(rows) == 60
    for row in rows:
        human, gpt = (turn["value"] for turn in row["conversations"])
        first, second = re.findall(r": \[(.+?)\]\n", human.split("Question:")[1])[:2]
        fact = re.match(r"The image shows that (.+?)\. ", gpt).group(1)
        claims = re.findall(r"says (.+?), which is (right|wrong)\.", gpt)
        assert len(claims) == 2
        for response, (claim, verdict) in zip((first, second), claims):
            assert claim in response
            assert (verdict == "right") == (response[0].lower() + response[1:-1] == fact), (response, gpt)
        winner = 1 if claims[0][1] == "right" else 2
        assert gpt.endswith(("[first]", "[1]", "[A]") if winner == 1 else ("[second]", "[2]", "[B]"))


def test_short_layout_one_big_shape(tmp_path):
    rows = list(
        synthetic_rows(40, "pairwise", seed=2, tie_rate=0.0, questions=("colour",), max_shapes=1, layout="short")
    )
    for row in rows:
        human = row["conversations"][0]["value"]
        assert human.startswith("<image>\nWhich response answers the question about the image correctly?\nQuestion: [")
        assert "Response 1: [" in human and "Response 2: [" in human
        picture = PILImage.open(io.BytesIO(row["image"]["bytes"])).convert("RGB")
        coloured = sum(1 for pixel in picture.getdata() if pixel != (255, 255, 255))
        assert coloured > 0.15 * 84 * 84  # one shape filling much of the picture (a 22 px one: < 4%)
    with pytest.raises(ValueError, match="layout must be one of"):
        list(synthetic_rows(1, layout="long"))
    with pytest.raises(ValueError, match="max_shapes must be 1, 2 or 3"):
        list(synthetic_rows(1, max_shapes=4))


def test_generic_shape_in_the_mixed_layout():
    """name_shape=False keeps the 113k layouts but asks "the shape": right and wrong answers differ only in
    colour, and the rationale quotes the colour."""
    rows = list(
        synthetic_rows(30, "pairwise", seed=5, tie_rate=0.0, questions=("colour",), max_shapes=1, name_shape=False)
    )
    instructions = set()
    for row in rows:
        human, gpt = (turn["value"] for turn in row["conversations"])
        assert "Question: [What colour is the shape?]" in human
        first, second = re.findall(r": \[(The shape is \w+\.)\]\n", human)
        assert first != second and first.split()[:3] == second.split()[:3]
        assert re.findall(r"says (\w+), which is", gpt) == [first.split()[-1][:-1], second.split()[-1][:-1]]
        instructions.add(human.split("\n")[1])
    assert len(instructions) > 1  # still the mixed instructions
    named = next(synthetic_rows(1, "pairwise", seed=5, questions=("colour",), max_shapes=1))
    assert "What colour is the shape?" not in named["conversations"][0]["value"]


def test_keep_order_and_sft_policy(tmp_path):
    """--keep-order (seed None) never swaps, so the positional rationale survives into sft-r1; sft-policy
    answers the question with the preferred response."""
    path = tmp_path / "short.parquet"
    rows = list(synthetic_rows(40, "pairwise", seed=6, tie_rate=0.0, questions=("colour",), layout="short"))
    Dataset.from_list(rows, features=features()).to_parquet(str(path))
    originals = {r["id"]: r for r in rows}
    convert("llava-critic-pairwise", str(path), "sft-r1", str(tmp_path / "r1"), seed=None)
    convert("llava-critic-pairwise", str(path), "eval", str(tmp_path / "eval"), seed=None)
    convert("llava-critic-pairwise", str(path), "sft-policy", str(tmp_path / "policy"), seed=None)
    assert not any(load_any(str(tmp_path / "eval"))["swapped"])
    for row in load_any(str(tmp_path / "r1")):
        gpt = originals[row["id"]]["conversations"][1]["value"]
        answer = row["messages"][1]["content"][0]["text"]
        assert answer == f"<think>{gpt[: gpt.rindex(' The better')]}</think>\\boxed{{{gpt[-2]}}}"
    policy = list(load_any(str(tmp_path / "policy")))
    assert len(policy) == 40 and {r["task"] for r in policy} == {"policy"}
    for row in policy:
        user, assistant = row["messages"]
        assert [part["type"] for part in user["content"]] == ["image", "text"]
        question = user["content"][1]["text"]
        assert question.startswith("What colour is the")
        human = originals[row["id"]]["conversations"][0]["value"]
        assert f"Question: [{question}]" in human
        assert _right_answer(originals[row["id"]]["conversations"][1]["value"]) == assistant["content"][0]["text"]


def test_the_papers_caption_rating_layout_converts(tmp_path):
    """LLaVA-Critic's own pointwise example (paper, Figure 2): no `Question:` line, an evaluation prompt, then
    `Text Caption:`; the verdict ends "Final Score: 85."."""
    (tmp_path / "a.png").write_bytes(_png())
    instruction = (
        "From 0 to 100, how much do you rate for this Text Caption in terms of the correct and "
        "comprehensive description of the image? Provide a few lines for explanation and the rate "
        'number at last after "Final Score:".'
    )
    caption = "The image shows a small train with four red cars, traveling on a track."
    gpt = "The text caption provides a generally accurate description of the image. Final Score: 85."
    rows = [
        {
            "id": "cap-1",
            "image": "a.png",
            "conversations": [
                {"from": "human", "value": f"<image>\n{instruction}\nText Caption: {caption}"},
                {"from": "gpt", "value": gpt},
            ],
        },
        {
            "id": "cap-2",
            "image": "a.png",
            "conversations": [
                {"from": "human", "value": f"<image>\n{instruction}\nText Caption: [{caption}]"},
                {"from": "gpt", "value": gpt.replace("85", "40")},
            ],
        },
        {
            "id": "no-caption",
            "image": "a.png",
            "conversations": [
                {"from": "human", "value": f"<image>\n{instruction}\nText Caption: "},
                {"from": "gpt", "value": gpt},
            ],
        },
    ]
    path = _jsonl(tmp_path / "cap.jsonl", rows)
    summary = convert("llava-critic-pointwise", path, "eval", str(tmp_path / "eval"))
    assert summary["rows_written"] == 2 and sum(summary["rejected"].values()) == 1
    out = {r["id"]: r for r in load_any(str(tmp_path / "eval"))}
    assert [out[i]["solution"] for i in ("cap-1", "cap-2")] == ["85", "40"]
    assert {out[i]["responses"][0] for i in ("cap-1", "cap-2")} == {caption}
    assert out["cap-1"]["question"] == "Describe the image." and out["cap-1"]["scale"] == "0-100"
    convert("llava-critic-pointwise", path, "sft", str(tmp_path / "sft"))
    [first, _] = load_any(str(tmp_path / "sft"))
    assert "Text Caption: " + caption in json.dumps(first["messages"])  # the prompt as written


def test_load_any_lets_datasets_read_folders_and_never_mixes_two_outputs_of_one_name(tmp_path):
    """A folder is read by `datasets` (recursive data files, splits by file name); a converted folder is read by
    its data file's absolute path, since `load_dataset(DIR)` caches card-configured folders by name."""
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "train.jsonl").write_text('{"q": "a"}\n{"q": "b"}\n')
    (splits / "test.jsonl").write_text('{"q": "c"}\n')
    assert load_any(str(splits))["q"][:] == ["a", "b"]
    assert load_any(str(splits), split="test")["q"][:] == ["c"]
    with pytest.raises(UserError, match="has no split 'dev'; it has: "):
        load_any(str(splits), split="dev")
    for name, rows in (("x", 3), ("y", 5)):
        dataset = Dataset.from_dict({"id": [f"{name}{i}" for i in range(rows)]})
        write_dataset(dataset, tmp_path / name / "out", "parquet")
        (tmp_path / name / "out" / "README.md").write_text(
            dataset_card({"source": name, "task": "eval", "input": name, "seed": 0})
        )
        (tmp_path / name / "out" / "rejected.jsonl").write_text('{"reason": "not data"}\n')
    assert load_any(str(tmp_path / "x" / "out"))["id"][:] == ["x0", "x1", "x2"]
    assert load_any(str(tmp_path / "y" / "out"))["id"][:] == [f"y{i}" for i in range(5)]


READ_AS_THE_ECOSYSTEM_DOES = """
import json, sys
import datasets
from trl.scripts.utils import DatasetMixtureConfig, DatasetConfig, get_dataset

datasets.disable_progress_bars()
out = {}
for folder in sys.argv[1:]:
    plain = datasets.load_dataset(folder, split="train")  # what `trl grpo --dataset_name FOLDER` calls
    mixture = get_dataset(DatasetMixtureConfig(datasets=[DatasetConfig(path=folder, split="train")]))["train"]
    rows = lambda d: [[i, s] for i, s in zip(d["id"], d["solution"])]
    out[folder] = {"plain": rows(plain), "mixture": rows(mixture), "columns": sorted(plain.column_names)}
print(json.dumps(out))
"""


def test_two_outputs_of_one_name_read_right_through_datasets_and_trl(sample, tmp_path):
    """`load_dataset(FOLDER)` and TRL's dataset loading, in a fresh process sharing one `datasets` cache, read each
    converted folder's own rows: two folders of one name, and one folder converted again with another seed."""
    import subprocess
    import sys

    from tests.cli_batch import Command, run_commands

    folders = [str(tmp_path / side / "zzcheck") for side in ("a", "b")]

    def convert_to(out: str, seed: int) -> list[str]:
        source = ["--source", "llava-critic-pairwise", "--input", sample, "--task", "grpo"]
        return ["convert", *source, "--out", out, "--seed", str(seed), "--overwrite"]

    results = run_commands([Command(convert_to(folder, seed)) for folder, seed in zip(folders, (1, 2))])
    assert [r.returncode for r in results] == [0, 0], results[0].stderr[-500:]

    def rows(folder: str) -> list[list[str]]:
        return [[row["id"], row["solution"]] for row in load_any(folder)]

    expected = {folder: rows(folder) for folder in folders}
    assert expected[folders[0]] != expected[folders[1]]  # another seed, other positions: a mix-up would show
    env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "hf-cache"), "HF_DATASETS_OFFLINE": "1"}

    def read() -> dict:
        command = [sys.executable, "-c", READ_AS_THE_ECOSYSTEM_DOES, *folders]
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        assert "metadata block was not found" not in result.stderr  # the card has a header, without `configs:`
        return json.loads(result.stdout)

    seen = read()
    for folder in folders:
        assert seen[folder]["plain"] == seen[folder]["mixture"] == expected[folder]
        assert "reason" not in seen[folder]["columns"]  # rejected.jsonl beside the data is not read as rows
    [again] = run_commands([Command(convert_to(folders[0], 3))])  # the same folder, converted again
    assert again.returncode == 0
    assert read()[folders[0]]["plain"] == rows(folders[0]) != expected[folders[0]]


@pytest.mark.parametrize("drawing", ["varied", "unseen"])
def test_other_drawings_change_the_picture_but_not_what_it_shows(drawing):
    """`--drawing varied|unseen`: other canvas sizes, backgrounds and shapes (`unseen` none that `varied` draws:
    the demo's held-out check), and each picture still holds the colour its right answer names (within the
    tint); `plain` stays 84 px white."""
    from data_converters.synthetic import COLOURS, DRAWINGS

    settings = dict(kind="pairwise", seed=7, tie_rate=0.0, questions=("colour",), max_shapes=1, name_shape=False)
    drawn = list(synthetic_rows(60, drawing=drawing, **settings))
    plain = list(synthetic_rows(60, **settings))
    pictures = [PILImage.open(io.BytesIO(row["image"]["bytes"])).convert("RGB") for row in drawn]
    style = DRAWINGS[drawing]
    assert {picture.size[0] for picture in pictures} == set(style.sides)
    assert {picture.getpixel((0, 0)) for picture in pictures} == set(style.backgrounds)
    for row, picture in zip(drawn, pictures):
        named = _right_answer(row["conversations"][1]["value"]).split()[-1].rstrip(".")
        target = COLOURS[named]
        near = [
            pixel for _, pixel in picture.getcolors(1 << 16) if max(abs(a - b) for a, b in zip(pixel, target)) <= 30
        ]
        assert near, (row["id"], named)
    for row in plain:
        picture = PILImage.open(io.BytesIO(row["image"]["bytes"])).convert("RGB")
        assert picture.size == (84, 84) and picture.getpixel((0, 0)) == (255, 255, 255)
    assert [row["conversations"] for row in plain] != [row["conversations"] for row in drawn]
    varied, unseen = DRAWINGS["varied"], DRAWINGS["unseen"]
    assert not set(varied.sides) & set(unseen.sides) and not set(varied.shapes) & set(unseen.shapes)
    assert not set(varied.backgrounds) & set(unseen.backgrounds)
    with pytest.raises(ValueError, match="drawing must be one of plain, varied, unseen"):
        list(synthetic_rows(1, drawing="sketchy"))


def test_a_balanced_set_puts_the_better_response_first_in_exactly_half_the_rows(tmp_path):
    """`make-synthetic --balanced`: a held-out set whose chance line is 50% (a judge blind to the picture, or always
    naming one side, scores half), shuffled so no marker style or row position gives the side away, and the same
    pictures and questions as the same seed without it."""
    from rl_critic.cli import main

    settings = ["--n", "201", "--seed", "4", "--tie-rate", "0", "--questions", "colour", "--max-shapes", "1"]
    for name, extra in (("balanced", ["--balanced"]), ("drawn", [])):
        assert main(["make-synthetic", *settings, *extra, "--out", str(tmp_path / f"{name}.parquet")]) == 0
        convert("llava-critic-pairwise", str(tmp_path / f"{name}.parquet"), "eval", str(tmp_path / name), seed=None)
    balanced, drawn = (list(load_any(str(tmp_path / name))) for name in ("balanced", "drawn"))
    solutions = [row["solution"] for row in balanced]
    assert solutions.count("1") == 101 and solutions.count("2") == 100
    assert [row["solution"] for row in drawn].count("1") != 101  # this seed's own draw is not balanced
    by_style = {style: {s for s in solutions[style::4]} for style in range(4)}
    assert all(sides == {"1", "2"} for sides in by_style.values()), by_style
    assert max(len(run) for run in "".join(solutions).replace("12", "1 2").replace("21", "2 1").split()) < 12
    for row, unbalanced in zip(balanced, drawn):
        assert row["question"] == unbalanced["question"]
        assert sorted(row["responses"]) == sorted(unbalanced["responses"])
        assert row["image"].tobytes() == unbalanced["image"].tobytes()
    ties = list(synthetic_rows(100, "pairwise", seed=4, tie_rate=0.2, balanced=True))
    verdicts = [row["conversations"][1]["value"] for row in ties]
    decided = [verdict for verdict in verdicts if not verdict.startswith("Both")]
    first = [verdict.endswith(("[first]", "[1]", "[A]")) for verdict in decided]
    assert 10 < len(verdicts) - len(decided) < 30 and 0.4 < sum(first) / len(decided) < 0.6
