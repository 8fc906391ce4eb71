"""Issue 44, video (in part): a row's `video` (a file or a list of frames) becomes the frames a model sees, within
one budget, and goes through questions, best-of-N and `generate` on both tiny families."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rl_critic.ground.errors import UserError
from rl_critic.models.media import MediaBudget
from rl_critic.models.video import load_video
from tests.cli_batch import Command, run_commands
from tests.conftest import shape_image
from tests.test_hostile_inputs import one_line, records, write_jsonl

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220)}


def write_video(path: Path, colours: list[str], fps: int = 4, side: int = 112) -> Path:
    """An MPEG-4 clip: one frame per entry of `colours`, a filled circle of that colour on white."""
    import av
    import numpy as np

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = side, side, "yuv420p"
        for colour in colours:
            frame = av.VideoFrame.from_ndarray(np.asarray(shape_image(side, side, COLOURS[colour])), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_a_video_file_is_sampled_to_the_budget(tmp_path):
    clip = write_video(tmp_path / "clip.mp4", ["red"] * 6 + ["blue"] * 6, fps=4)  # 3 s at 4 fps
    video = load_video(str(clip), MediaBudget(video_fps=2.0), None)
    assert len(video.frames) == 6 and video.fps == pytest.approx(2.0)  # every other frame
    first, last = video.frames[0].getpixel((56, 56)), video.frames[-1].getpixel((56, 56))
    assert first[0] > 150 > first[2] and last[2] > 150 > last[0]  # red first, blue last: in order
    capped = load_video(str(clip), MediaBudget(video_fps=4.0, video_max_frames=4, video_max_pixels=56 * 56), None)
    assert len(capped.frames) == 4 and capped.fps == pytest.approx(4.0 * 4 / 12)  # 4 frames over the 3 s
    assert all(frame.width * frame.height <= 56 * 56 for frame in capped.frames)
    # A long clip keeps only the frames it needs as it decodes: 4 of a minute's 240, spread over it
    long = write_video(tmp_path / "long.mp4", ["red"] * 120 + ["blue"] * 120, fps=4)
    spread = load_video(str(long), MediaBudget(video_max_frames=4), None)
    assert len(spread.frames) == 4 and spread.fps == pytest.approx(4 / 60)
    assert spread.frames[0].getpixel((56, 56))[0] > 150 and spread.frames[-1].getpixel((56, 56))[2] > 150


def test_a_list_of_frames_is_a_video_read_under_the_picture_rule(tmp_path):
    from data_converters.images import ImageFolder

    for index, colour in enumerate(["red", "red", "blue"]):
        shape_image(112 + 28 * index, 112, COLOURS[colour]).save(tmp_path / f"f{index}.png")
    folder = ImageFolder.of_input(str(tmp_path), None)
    video = load_video(["f0.png", "f1.png", "f2.png"], MediaBudget(video_fps=1.0), folder)
    assert len(video.frames) == 3 and video.fps == 1.0
    assert {frame.size for frame in video.frames} == {video.frames[0].size}  # one size: the first frame's
    # Only the frames kept are read: a missing frame between the two kept ones does not matter
    kept = load_video(["f0.png", "gone.png", "f2.png"], MediaBudget(video_max_frames=2), folder)
    assert len(kept.frames) == 2
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    for source, words in (
        (["../outside.png"], "leads outside --images_root"),
        ("missing.mp4", "video file not found"),
        ("broken.mp4", "cannot read video broken.mp4"),
        ("http://127.0.0.1:9/clip.mp4", "video URLs are not fetched"),
        ([], "empty list of frames"),
        (5, "a video is a file path or a list of frames, not int"),
        ("a\x00b.mp4", "names no file"),
        (["f0.png", "gone.png", "f2.png"], "image file not found: gone.png"),
    ):
        with pytest.raises(UserError, match=words):
            load_video(source, MediaBudget(), folder)


@pytest.mark.parametrize("model", ["tiny", "tiny-llava_onevision"])
def test_video_questions_go_through_best_of_n_and_generate(tmp_path, model):
    write_video(tmp_path / "clip.mp4", ["red"] * 4 + ["blue"] * 4, fps=4)
    for index, colour in enumerate(["red", "blue"]):
        shape_image(112, 112, COLOURS[colour]).save(tmp_path / f"f{index}.png")
    question = {"question": "What colour is the shape at the end?", "answer": "blue"}
    questions = write_jsonl(
        tmp_path / "questions.jsonl",
        [
            {"id": "file", "video": "clip.mp4", **question},
            {"id": "frames", "video": ["f0.png", "f1.png"], **question},
            {"id": "both", "image": "f0.png", "video": "clip.mp4", **question},
            {"id": "broken", "video": "missing.mp4", **question},
            {"id": "plural", "videos": ["f0.png"], **question},
        ],
    )
    pair = {"task": "pairwise", "question": "What colour is the shape at the end?", "responses": ["Blue.", "Red."]}
    eval_rows = write_jsonl(
        tmp_path / "eval.jsonl",
        [
            {"id": "p-file", "video": "clip.mp4", "solution": "1", **pair},
            {"id": "p-frames", "video": ["f0.png", "f1.png"], "solution": "1", **pair},
            {"id": "p-missing", "video": "gone.mp4", "solution": "1", **pair},
        ],
    )
    picks, eval_report = tmp_path / "picks.jsonl", tmp_path / "eval" / "report.json"
    tiny = ["--model", model, "--max_new_tokens", "2"]
    results = run_commands(
        [
            Command(
                ["best-of-n", *tiny, "--n", "2", "--strategy", "knockout", "--input", str(questions)]
                + ["--out", str(picks), "--critic_unreadable_ok", "true"]
            ),
            Command(["generate", *tiny, "--prompt", "Colour?", "--video", str(tmp_path / "clip.mp4"), "--json"]),
            Command(
                [
                    "generate",
                    *tiny,
                    "--prompt",
                    "Colour?",
                    "--video",
                    str(tmp_path / "f0.png"),
                    str(tmp_path / "f1.png"),
                    "--json",
                ]
            ),
            Command(["generate", *tiny, "--prompt", "Colour?", "--video", str(tmp_path / "nothing.mp4")]),
            Command(
                ["generate", *tiny, "--prompt", "Colour?", "--video", str(tmp_path / "clip.mp4"), "--json"]
                + ["--video_max_frames", "2", "--video_max_pixels", "3136"]
            ),
            Command(
                ["eval", "critic", *tiny, "--data", str(eval_rows), "--out", str(eval_report), "--swap", "true"]
                + ["--unreadable_ok", "true"]
            ),
        ]
    )
    assert results[0].returncode == 0, results[0].stderr[-1500:]
    by_id = {record["id"]: record for record in records(picks)}
    for name in ("file", "frames", "both"):
        assert "errors" not in by_id[name] and len(by_id[name]["candidates"]) == 2, by_id[name]
    assert "video file not found" in by_id["broken"]["errors"][0]
    assert "did you mean `video`?" in by_id["plural"]["errors"][0]
    for result, frames in ((results[1], 4), (results[2], 2)):  # 8 frames at 4 fps sampled at 2 fps; 2 listed
        assert result.returncode == 0, result.stderr[-1500:]
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report["videos"] == [{"frames": frames, "fps": 2.0}] and report["video_tokens"] > 0, report
    one_line(results[3], "generate", "video file not found")
    # The budget is what the model gets: 2 frames of 56 x 56 cost fewer video tokens than 4 of 112 x 112
    small, full = (json.loads(result.stdout.strip().splitlines()[-1]) for result in (results[4], results[1]))
    assert small["videos"][0]["frames"] == 2 and 0 < small["video_tokens"] < full["video_tokens"], (small, full)
    # eval critic: the two rows with a video are judged in both orders, the missing file is that row's error
    assert results[5].returncode == 0, results[5].stderr[-1500:]
    judged = json.loads(eval_report.read_text())
    assert judged["pairwise"]["n"] == 2 and judged["errors"]["rows"] == 1, judged
    assert "video file not found" in results[5].stdout


def _video_training_data(folder: Path) -> tuple[str, str]:
    """A `messages` dataset whose rows show a clip (frames + rate, as training rows hold a video) and a question file
    naming clips: the shape turns from one colour to the other, the answer is the last one."""
    from datasets import Dataset

    from data_converters.columns import features, video_features
    from data_converters.prompts import assistant_turn, user_prompt

    question = "What colour is the shape at the end?"
    clips = {"rb.mp4": ("red", "blue"), "br.mp4": ("blue", "red")}
    for name, (first, last) in clips.items():
        write_video(folder / name, [first] * 4 + [last] * 4, fps=4)
    rows = []
    for name, (_, last) in clips.items():
        video = load_video(str(folder / name), MediaBudget(), None)
        messages = user_prompt(question, 0, 1) + assistant_turn(f"{last.title()}.")
        rows.append({"messages": messages, "images": [], "video": video.frames, "video_fps": video.fps})
    sft_data = folder / "sft.parquet"
    Dataset.from_list(rows * 2, features=features(("messages",), "images", **video_features())).to_parquet(
        str(sft_data)
    )
    questions = [{"id": name, "video": name, "question": question, "answer": last} for name, (_, last) in clips.items()]
    return str(sft_data), str(write_jsonl(folder / "questions.jsonl", questions))


def _vision_changed(model: str, output: Path) -> tuple[int, int]:
    """(parameters changed, of them in the vision tower) between the tiny model and a trained copy."""
    import torch
    from safetensors.torch import load_file

    from rl_critic.models.loader import resolve_model_path

    before = load_file(str(Path(resolve_model_path(model)) / "model.safetensors"))
    after = load_file(str(output / "model.safetensors"))
    changed = [key for key, value in after.items() if key in before and not torch.equal(before[key], value)]
    return len(changed), sum("visual" in key or "vision_tower" in key for key in changed)


@pytest.mark.parametrize("model", ["tiny", "tiny-llava_onevision"])
def test_sft_and_grpo_train_on_video_rows(tmp_path, model, capsys):
    """2 SFT steps on `messages` rows with a video and 2 GRPO steps on video questions with `critic_judge` (the
    critic sees the policy's clip): the frames reach the vision tower in the training forward (its weights move:
    TRL alone would train on the prompt as text), loss finite."""
    import math
    import re

    from rl_critic.train import grpo, sft
    from tests.helpers import run_script

    sft_data, questions = _video_training_data(tmp_path)
    cpu = ["--use_cpu", "true", "--bf16", "false", "--gradient_checkpointing", "false", "--report_to", "none"]
    common = ["--model_name_or_path", model, "--max_steps", "2", "--save_strategy", "no", "--logging_steps", "1", *cpu]
    sft_out, grpo_out = tmp_path / "sft", tmp_path / "grpo"
    sft_args = ["--dataset_name", sft_data, "--output_dir", str(sft_out), "--per_device_train_batch_size", "2"]
    assert run_script(sft, [*sft_args, "--assistant_only_loss", "true", "--learning_rate", "1e-3", *common]) == 0
    grpo_args = ["--dataset_name", questions, "--output_dir", str(grpo_out), "--critic_model", model]
    grpo_args += ["--reward_funcs", "critic_judge", "tests.helpers.length_reward", "--reward_weights", "1", "1"]
    grpo_args += ["--per_device_train_batch_size", "4", "--num_generations", "2", "--max_completion_length", "8"]
    grpo_args += ["--critic_max_new_tokens", "4", "--beta", "0.01", "--learning_rate", "5e-4", "--temperature", "1.0"]
    grpo_args += ["--critic_unreadable_ok", "true"]  # the untrained tiny critic: the mechanics, not a signal
    assert run_script(grpo, [*grpo_args, *common]) == 0
    for output in (sft_out, grpo_out):
        changed, vision = _vision_changed(model, output)
        assert changed > 0 and vision > 0, (output.name, changed, vision)
    printed = capsys.readouterr().out
    for method in ("sft", "grpo"):  # the run's last line: "sft: 2 steps; loss 7.084 -> 6.816"
        losses = re.search(rf"^{method}: 2 steps; loss ([^;\s]+) -> ([^;\s]+)", printed, re.MULTILINE)
        assert losses and all(math.isfinite(float(value)) for value in losses.groups()), printed[-2000:]
    assert "critic_judge/too_long_rate': '0'" in printed and "critic_judge/judgments': '4'" in printed, printed[-3000:]


def test_the_critic_reward_sees_the_policys_video():
    from PIL import Image

    from rl_critic.critique.reward import _media
    from rl_critic.models.media import Video

    frames = [Image.new("RGB", (56, 56), "red"), Image.new("RGB", (56, 56), "blue")]
    bound = Video(frames, 1.0)
    kwargs = {"images": [[], []], "video": [bound, frames], "video_fps": [1.0, 0.5]}
    first, second = _media(kwargs, 0), _media(kwargs, 1)
    assert first.videos == [bound] and not first.images
    assert second.videos[0].frames == frames and second.videos[0].fps == 0.5
    assert not _media({"images": [[frames[0]]]}, 0).videos


def test_the_openai_engine_sends_a_video_as_vllms_server_reads_it():
    """A `video_url` part of the frames (a `video/jpeg` data URL of comma-joined base64 frames, PNG so the pixels
    stay exact) and the rate in `media_io_kwargs` (checked against `vllm serve` on the tiny model: same prompt
    tokens as hf, see docs/serving.md)."""
    import base64
    import io

    from PIL import Image

    from data_converters.prompts import user_prompt
    from rl_critic.generation.served import openai_messages, video_rate
    from rl_critic.models.media import Media, Video

    frames = [shape_image(56, 56, COLOURS[colour]) for colour in ("red", "blue", "blue")]
    shown = Media([shape_image()], [Video(frames, 1.5)])
    [message] = openai_messages(user_prompt("Colour?", 1, 1), shown)
    kinds = [part["type"] for part in message["content"]]
    assert kinds == ["image_url", "video_url", "text"]
    head, _, body = message["content"][1]["video_url"]["url"].partition(",")
    assert head == "data:video/jpeg;base64"
    sent = [Image.open(io.BytesIO(base64.b64decode(frame))) for frame in body.split(",")]
    assert [frame.tobytes() for frame in sent] == [frame.tobytes() for frame in frames]
    assert video_rate(shown) == {"media_io_kwargs": {"video": {"fps": 1.5}}} and video_rate(Media()) == {}
    with pytest.raises(ValueError, match="more video parts than videos"):
        openai_messages(user_prompt("Colour?", 0, 1), Media())


def test_llava_onevision_videos_that_do_not_stack_are_one_line(tmp_path):
    from datasets import Dataset

    from data_converters.columns import features, video_features
    from data_converters.prompts import assistant_turn, user_prompt
    from rl_critic.train import sft
    from tests.helpers import run_script

    rows = []
    for name, length in (("short.mp4", 4), ("long.mp4", 8)):  # 2 and 4 frames at 2 fps
        video = load_video(str(write_video(tmp_path / name, ["red"] * length, fps=4)), MediaBudget(), None)
        messages = user_prompt("Colour?", 0, 1) + assistant_turn("Red.")
        rows.append({"messages": messages, "images": [], "video": video.frames, "video_fps": video.fps})
    data = tmp_path / "mixed.parquet"
    Dataset.from_list(rows, features=features(("messages",), "images", **video_features())).to_parquet(str(data))
    argv = ["--model_name_or_path", "tiny-llava_onevision", "--dataset_name", str(data), "--output_dir"]
    argv += [str(tmp_path / "out"), "--max_steps", "1", "--per_device_train_batch_size", "2", "--use_cpu", "true"]
    with pytest.raises(UserError, match="per_device_train_batch_size 1"):
        run_script(sft, [*argv, "--report_to", "none", "--bf16", "false", "--gradient_checkpointing", "false"])
    assert not (tmp_path / "out").exists()


def _llava_critic_video_rows(folder: Path) -> Path:
    """LLaVA-Critic-113k-style pairwise rows showing a clip (a file, or its frames) instead of a picture, one with a
    picture only, and one whose clip is missing; the human turns start with `<video>` as video data's do."""
    from data_converters.synthetic import synthetic_rows

    write_video(folder / "clip.mp4", ["red"] * 4 + ["blue"] * 8, fps=4)  # 3 s: 6 frames at 2 fps
    for index, colour in enumerate(["red", "blue", "blue"]):
        shape_image(84, 84, COLOURS[colour]).save(folder / f"f{index}.png")
    rows = []
    for index, row in enumerate(synthetic_rows(4, "pairwise", seed=2)):
        turns = [{**turn, "value": turn["value"].replace("<image>", "<video>")} for turn in row["conversations"]]
        media = [
            {"video": "clip.mp4"},
            {"video": ["f0.png", "f1.png", "f2.png"]},
            {"image": "f0.png"},
            {"video": "missing.mp4"},
        ][index]
        conversations = turns if "video" in media else row["conversations"]
        rows.append({"id": f"v{index}", "source": row["source"], "conversations": conversations, **media})
    return write_jsonl(folder / "rows.jsonl", rows)


def test_convert_reads_video_rows_for_every_task_and_dpo_and_eval_critic_use_them(tmp_path):
    """`convert` samples a row's video (file or frames) with its video budget and stores the frames and their rate;
    `load_dataset(folder)` reads them back as pictures; DPO trains on the converted pairs (the frames reach the
    vision tower) and `eval critic` judges the converted eval rows' clips."""
    from datasets import load_dataset

    from data_converters.synthetic import synthetic_rows

    rows = _llava_critic_video_rows(tmp_path)
    convert = ["convert", "--source", "llava-critic-pairwise", "--input", str(rows), "--video_max_frames", "4"]
    points = []  # pointwise rows (a score of one response) read the video the same way
    for index, row in enumerate(synthetic_rows(2, "pointwise", seed=1)):
        turns = [{**turn, "value": turn["value"].replace("<image>", "<video>")} for turn in row["conversations"]]
        points.append({"id": f"p{index}", "source": row["source"], "conversations": turns, "video": "clip.mp4"})
    point_rows = write_jsonl(tmp_path / "points.jsonl", points)
    tasks = ("sft", "grpo", "dpo", "eval")
    dpo_out = tmp_path / "dpo-model"
    train = ["train", "dpo", "--model", "tiny", "--dataset_name", str(tmp_path / "dpo"), "--output_dir", str(dpo_out)]
    train += ["--max_steps", "2", "--per_device_train_batch_size", "3", "--save_strategy", "no", "--report_to", "none"]
    train += ["--use_cpu", "true", "--bf16", "false", "--gradient_checkpointing", "false", "--learning_rate", "1e-3"]
    report = tmp_path / "eval-report" / "report.json"
    results = run_commands(
        [Command([*convert, "--task", task, "--out", str(tmp_path / task)]) for task in tasks]
        + [
            Command([*convert, "--task", "sft", "--out", str(tmp_path / "bad"), "--video_fps", "0"]),
            Command(train, timeout=300),
            Command(
                ["eval", "critic", "--model", "tiny", "--data", str(tmp_path / "eval"), "--out", str(report)]
                + ["--unreadable_ok", "true"]
            ),
            Command(
                ["convert", "--source", "llava-critic-pointwise", "--input", str(point_rows), "--task", "sft"]
                + ["--out", str(tmp_path / "points")]
            ),
            Command(
                ["train", "grpo", "--dataset_name", str(tmp_path / "grpo"), "--output_dir", str(tmp_path / "g")]
                + ["--use_cpu", "true", "--bf16", "false"]
            ),
        ]
    )
    for result in results[:4]:
        assert result.returncode == 0, result.stderr[-1500:]
    for task in tasks:
        data = load_dataset(str(tmp_path / task))["train"]
        by_id = {row["id"].split("#")[0]: row for row in data}
        assert set(by_id) == {"v0", "v1", "v2"}, (task, list(by_id))
        assert len(by_id["v0"]["video"]) == 4 and by_id["v0"]["video_fps"] == pytest.approx(4 / 3)  # 4 frames over 3 s
        assert by_id["v1"]["video_fps"] == 2.0 and [frame.size for frame in by_id["v1"]["video"]] == [(84, 84)] * 3
        assert by_id["v2"]["video"] == [] and by_id["v2"]["video_fps"] is None and by_id["v2"]["image"] is not None
        column = "messages" if task == "sft" else "prompt"
        parts = [part["type"] for part in by_id["v0"][column][0]["content"]]
        assert parts[0] == "video" and "image" not in parts and "<video>" not in json.dumps(by_id["v0"][column])
        rejected = records(tmp_path / task / "rejected.jsonl")
        assert [row["reason"] for row in rejected] == ["video file not found (or not a regular file): missing.mp4"]
    one_line(results[4], "convert", "video_fps must be > 0")
    assert results[5].returncode == 0, results[5].stderr[-1500:]
    changed, vision = _vision_changed("tiny", dpo_out)
    assert changed > 0 and vision > 0, (changed, vision)
    assert results[6].returncode == 0, results[6].stderr[-1500:]
    judged = json.loads(report.read_text())
    assert judged["pairwise"]["n"] == 3 and "errors" not in judged, judged
    assert results[7].returncode == 0, results[7].stderr[-1500:]
    scored = load_dataset(str(tmp_path / "points"))["train"]
    assert len(scored) == 2 and all(len(row["video"]) == 6 and row["video_fps"] == 2.0 for row in scored)
    assert all(row["messages"][0]["content"][0]["type"] == "video" for row in scored)
    one_line(results[8], "train", "not both in one dataset yet (1 with pictures, 2 with a video)")


def test_make_pairs_writes_video_questions_as_113k_rows_that_convert_reads(tmp_path):
    """A video question's pairs are 113k rows with the clip's frames and rate (no picture, `<video>` in the judge
    turn); a picture question beside it keeps its picture; `convert` reads both back."""
    from datasets import load_dataset

    write_video(tmp_path / "clip.mp4", ["red"] * 4 + ["blue"] * 4, fps=4)
    shape_image(84, 84, COLOURS["red"]).save(tmp_path / "red.png")
    question = {"question": "What colour is the shape at the end?", "answer": "blue"}
    questions = write_jsonl(
        tmp_path / "questions.jsonl",
        [
            {"id": "clip", "video": "clip.mp4", **question},
            {"id": "picture", "image": "red.png", **question},
            {"id": "both", "image": "red.png", "video": "clip.mp4", **question},
        ],
    )
    pairs, converted = tmp_path / "pairs.parquet", tmp_path / "sft"
    results = run_commands(
        [
            Command(["make-pairs", "--model", "tiny", "--input", str(questions), "--out", str(pairs), "--n", "2"]),
            Command(
                ["convert", "--source", "llava-critic-pairwise", "--input", str(pairs), "--task", "sft"]
                + ["--out", str(converted)]
            ),
        ]
    )
    assert results[0].returncode == 0, results[0].stderr[-1500:]
    assert "a video beside other pictures or videos (a 113k row shows one)" in results[0].stdout, results[0].stdout
    rows = {row["id"].split("-pair-")[0]: row for row in load_dataset("parquet", data_files=str(pairs))["train"]}
    assert set(rows) == {"clip", "picture"}, list(rows)
    clip, picture = rows["clip"], rows["picture"]
    assert clip["image"] is None and len(clip["video"]) == 4 and clip["video_fps"] == 2.0
    assert clip["conversations"][0]["value"].startswith("<video>\n")
    assert picture["image"] is not None and picture["video"] == [] and picture["video_fps"] is None
    assert results[1].returncode == 0, results[1].stderr[-1500:]
    sft_rows = {row["id"].split("-pair-")[0]: row for row in load_dataset(str(converted))["train"]}
    assert len(sft_rows["clip"]["video"]) == 4 and sft_rows["clip"]["video_fps"] == 2.0
    assert sft_rows["clip"]["messages"][0]["content"][0]["type"] == "video"


def test_critic_dpo_trains_a_policy_on_video_questions(tmp_path):
    """A round of critic-DPO on video questions (a scripted judge that prefers longer answers): the preference rows
    keep the clip the policy answered about, and DPO moves the policy's vision tower."""
    from datasets import load_from_disk

    from rl_critic.script.parsing import parse_args
    from rl_critic.train.critic_dpo import main, make_parser

    _, questions = _video_training_data(tmp_path)
    out = tmp_path / "run"
    argv = ["--config", str(Path(__file__).resolve().parent.parent / "recipes/tiny/critic_dpo_policy.yaml")]
    argv += ["--dataset_name", questions, "--output_dir", str(out), "--n", "3", "--max_new_tokens", "12"]
    argv += ["--per_device_train_batch_size", "2", "--rounds", "1", "--critic_class", "tests.helpers.LengthJudge"]
    assert main(*parse_args(make_parser(), argv)) == 0
    preferences = load_from_disk(str(out / "round_1" / "preferences"))
    assert len(preferences) > 0
    for row in preferences:
        assert len(row["video"]) == 4 and row["video_fps"] == 2.0 and row["images"] == []
        assert row["prompt"][0]["content"][0]["type"] == "video"
    changed, vision = _vision_changed("tiny", out / "round_1" / "model")
    assert changed > 0 and vision > 0, (changed, vision)
