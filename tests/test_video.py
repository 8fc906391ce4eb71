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
                + ["--out", str(picks)]
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
            Command(["eval", "critic", *tiny, "--data", str(eval_rows), "--out", str(eval_report), "--swap", "true"]),
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
