"""Judge-scored open-ended benchmarks (LLaVA-Critic's "LMM-as-a-Judge"): a critic reads a policy's open answer and
scores it, the way LLaVA-Critic's Table 5 measures policies.

`reference` mode is LLaVA-Bench-in-the-Wild's: one judgment per question sees the image's text context, the question,
the reference answer as Assistant 1 and the policy's answer as Assistant 2, and gives both a 1-10 score on its first
line, in the layout of LLaVA's `llava/eval/eval_gpt_review_bench.py` with the instruction of `llava/eval/table/
rule.json` for the question's category (`llava_bench_conv`, `_detail`, `_complex`; `default` otherwise). The report
follows `summarize_gpt_review.py`: per category and over every question (`all`), the mean of each side and the
relative score 100 x mean(policy) / mean(reference), rounded to 0.1. Unlike that script, a review whose scores cannot
be read is counted (`unreadable`) and left out of the means, instead of entering them as (-1, -1).

`score` mode is MMHal-Bench's: one rating per answer on the benchmark's 0-6 scale, asked with its own prompt
(`mmhal_prompt.py`: the image's contents, the question, the human answer, the policy's answer), read as its
`eval_gpt_mmhal.py` reads it (the one `Rating: N` the review names); the report gives the mean rating overall and per
`question_type`, and the hallucination rate, the share of ratings under 3. A review naming no rating or several is
counted (`unreadable`) and left out, where the original script counts it as a 0.

`pairwise` mode is WildVision-Bench's: the policy's answer against a baseline's (WildVision's model answers JSONL:
`question_id`, `output`, `model`), judged in both orders with the benchmark's judge prompt (Arena-Hard's, as
WildVision's `config/judge_config.yaml` sets it: the system prompt, then the user prompt and both answers) and read by
its label pattern `[[A>>B]]`, `[[A>B]]`, `[[A=B]]`, `[[B>A]]`, `[[B>>A]]` (a review with no label, or labels that
disagree, is unreadable). Each readable game is a win (1), tie (0.5) or loss (0) for the policy, whatever the
strength; the win rate is their mean over every game, with a 95% bootstrap interval over questions (1,000
resamples, seed 0), and per order (policy as A, as B) to show a judge's position bias.

A benchmark folder in LLaVA-Bench-in-the-Wild's published layout is read as it is: `questions.jsonl`
(`question_id`, `image`, `text`, `category`), `context.jsonl` (`image`, `caption`: a list of sentences),
`answers_gpt4.jsonl` (`question_id`, `text`: the reference answer) and `images/`. So is MMHal-Bench's:
`response_template.json` (a list of `question_type`, `question_topic`, `image_id`, `image_src`, `image_content`,
`question`, `gt_answer`), each picture read from `images/` (by the file name of `image_src`, else `image_id`.jpg),
else from `image_src` as `--image_urls` allows.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from rl_critic.ground.errors import UserError

JUDGE_MODES = ("reference", "score", "pairwise")
LLAVA_BENCH_FILES = ("questions.jsonl", "context.jsonl", "answers_gpt4.jsonl")
MMHAL_FILE = "response_template.json"
MMHAL_SCALE = (0, 6)
MMHAL_HALLUCINATION_BELOW = 3  # a rating under 3 says the answer holds a hallucination

# LLaVA-Bench's review instructions (llava/eval/table/rule.json): the same words for its three categories.
_RATE = (
    "Please rate the helpfulness, relevance, accuracy, level of details of their responses. Each assistant receives "
    "an overall score on a scale of 1 to 10, where a higher score indicates better overall performance.\n"
    "Please first output a single line containing only two values indicating the scores for Assistant 1 and 2, "
    "respectively. The two scores are separated by a space.\n"
    "In the subsequent line, please provide a comprehensive explanation of your evaluation, avoiding any potential "
    "bias and ensuring that the order in which the responses were presented does not affect your judgment."
)
LLAVA_BENCH_INSTRUCTION = (
    "We would like to request your feedback on the performance of two AI assistants in response to the user question "
    "displayed above. The user asks the question on observing an image. For your reference, the visual content in the "
    "image is represented with a few sentences describing the image. \n" + _RATE
)
DEFAULT_INSTRUCTION = (
    "We would like to request your feedback on the performance of two AI assistants in response to the user question "
    "displayed above.\n" + _RATE
)
LLAVA_BENCH_CATEGORIES = ("conv", "detail", "complex")


def is_llava_bench(source: str) -> bool:
    """A folder in LLaVA-Bench-in-the-Wild's layout (its three JSONL files)."""
    folder = Path(source)
    return folder.is_dir() and all((folder / name).is_file() for name in LLAVA_BENCH_FILES)


def read_llava_bench(source: str) -> list[dict[str, Any]]:
    """The benchmark's questions as question rows (`id`, `image` under `images/`, `question`, `answer`: the
    reference) with their `category` and `context` (the caption sentences, one per line)."""
    folder = Path(source)

    def lines(name: str) -> list[dict[str, Any]]:
        return _json_lines((folder / name).read_text(encoding="utf-8"), str(folder / name))

    captions = {row.get("image"): row.get("caption") for row in lines("context.jsonl")}
    references = {row.get("question_id"): row.get("text") for row in lines("answers_gpt4.jsonl")}
    rows = []
    for question in lines("questions.jsonl"):
        qid = question.get("question_id")
        caption = captions.get(question.get("image"))
        rows.append(
            {
                "id": str(qid),
                "image": f"images/{question.get('image')}",
                "question": question.get("text"),
                "answer": references.get(qid),
                "category": str(question.get("category") or ""),
                "context": "\n".join(caption) if isinstance(caption, list) else caption or "",
            }
        )
    return rows


def _json_lines(text: str, where: str) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL text, blank lines skipped; a line that does not parse, or is no object, is one
    line naming `where` and its number."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except ValueError as err:
                raise UserError(f"{where} line {number} is not JSON: {err}") from None
            if not isinstance(row, dict):
                raise UserError(f"{where} line {number} is not a JSON object")
            rows.append(row)
    return rows


def is_mmhal(source: str) -> bool:
    """A folder holding MMHal-Bench's `response_template.json`, or that file itself."""
    path = Path(source)
    return (path.is_dir() and (path / MMHAL_FILE).is_file()) or (path.is_file() and path.name == MMHAL_FILE)


def read_mmhal(source: str) -> list[dict[str, Any]]:
    """MMHal-Bench's questions as question rows (`id`: the position, `image`, `question`, `answer`: the human
    answer) with their `question_type` and `image_content` (joined with ", " as the benchmark's script does)."""
    path = Path(source)
    folder, file = (path, path / MMHAL_FILE) if path.is_dir() else (path.parent, path)
    try:
        records = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as err:
        raise UserError(f"{file} is not JSON: {err}") from None
    if not isinstance(records, list):
        raise UserError(f"{file} is not a list of questions")
    rows = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise UserError(f"{file} entry {index} is not an object")
        source_url = str(record.get("image_src") or "")
        candidates = [Path(source_url).name, f"{record.get('image_id')}.jpg"]
        local = next((f"images/{name}" for name in candidates if name and (folder / "images" / name).is_file()), None)
        content = record.get("image_content")
        rows.append(
            {
                "id": str(index),
                "image": local or source_url,
                "question": record.get("question"),
                "answer": record.get("gt_answer"),
                "category": str(record.get("question_type") or ""),
                "context": ", ".join(content) if isinstance(content, list) else str(content or ""),
            }
        )
    return rows


def read_wildvision(source: str) -> list[dict[str, Any]] | None:
    """WildVision-Bench's questions as question rows (`question_id`, `instruction`, `image`: its dataset, saved as
    parquet or a `save_to_disk` folder), or None when `source` is not in that layout."""
    if not Path(source).exists() or Path(source).suffix in (".jsonl", ".json"):
        return None
    from data_converters.io import load_input

    dataset, _ = load_input(source)
    if not {"question_id", "instruction"} <= set(dataset.column_names):
        return None
    return [
        {"id": str(row["question_id"]), "question": row["instruction"], "image": row.get("image")} for row in dataset
    ]


def mmhal_rating(text: str) -> int | None:
    """The review's rating as MMHal-Bench's script reads it: the one `rating: N` (N in 0-6) it names; None when it
    names none or several."""
    found = [value for value in range(7) if f"rating: {value}" in text.lower()]
    return found[0] if len(found) == 1 else None


def per_category(reviews: list[dict[str, Any]], summary) -> dict[str, Any]:
    """`summary` of the reviews of each category (a benchmark's category or question type) in name order, then of
    them all (`all`)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for review in reviews:
        groups[review.get("category") or "uncategorized"].append(review)
        groups["all"].append(review)
    return {name: summary(items) for name, items in sorted(groups.items(), key=lambda kv: (kv[0] == "all", kv[0]))}


def score_report(reviews: list[dict[str, Any]]) -> dict[str, Any]:
    """Per question type and `all`: questions, unreadable reviews, the mean rating and the hallucination rate (the
    share of readable ratings under 3), over the readable ratings."""

    def summary(items: list[dict[str, Any]]) -> dict[str, Any]:
        ratings = [item["rating"] for item in items if item.get("rating") is not None]
        result: dict[str, Any] = {"questions": len(items), "unreadable": len(items) - len(ratings)}
        if ratings:
            result["mean_rating"] = round(sum(ratings) / len(ratings), 3)
            result["hallucination_rate"] = round(
                sum(rating < MMHAL_HALLUCINATION_BELOW for rating in ratings) / len(ratings), 3
            )
        return result

    return per_category(reviews, summary)


def other_judge_scores(source: str) -> dict[str, float]:
    """Another judge's score of each policy answer, by question id, from its reviews as published or written:
    LLaVA's review JSONL (`question_id`, `tuple`: the policy's is the second), MMHal-Bench's saved GPT-4 answers (a
    JSON list of chat completions in question order, each rating read by `mmhal_rating`), or this command's
    `report.judgments.jsonl` (`id`, `scores` or `rating`; for `pairwise`, each game's outcome for the policy, keyed
    `id|baseline|order`). Unreadable entries are left out."""
    path = Path(source)
    if not path.is_file():
        raise UserError(f"--agree_with {source}: no such file")
    text = path.read_text(encoding="utf-8")
    scores: dict[str, float] = {}
    if text.lstrip().startswith("["):  # MMHal-Bench: the chat completions, in question order
        for index, completion in enumerate(json.loads(text)):
            content = (((completion or {}).get("choices") or [{}])[0].get("message") or {}).get("content") or ""
            if (rating := mmhal_rating(content)) is not None:
                scores[str(index)] = float(rating)
        return scores
    for row in _json_lines(text, f"--agree_with {source}"):
        key = str(row.get("id", row.get("question_id")))
        for game in row.get("games") or []:  # a pairwise run's games
            if isinstance(game, dict) and isinstance(game.get("outcome"), (int, float)):
                scores[f"{key}|{game.get('baseline')}|{game.get('order')}"] = float(game["outcome"])
        pair = row.get("tuple", row.get("scores"))
        value = row.get("rating", row.get("score"))
        if isinstance(pair, list) and len(pair) == 2 and pair[1] is not None and pair[1] >= 0:  # LLaVA: -1 unread
            scores[key] = float(pair[1])
        elif isinstance(value, (int, float)):
            scores[key] = float(value)
    return scores


def item_agreement(reviews: list[dict[str, Any]], other: dict[str, float], policy: str = "policy") -> dict[str, Any]:
    """Pearson's r and Kendall's tau-b between this judge's score of each policy answer and another judge's, over
    the items both read (LLaVA-Critic's item-level agreement with GPT-4o); in `pairwise` mode the items are the
    games (the policy's outcome), and the model level compares the Bradley-Terry ratings each judge's games give
    the policy and the baselines, over the games both read."""
    from rl_critic.evaluation.metrics import bradley_terry, kendall_tau, pearson

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    ours, theirs, battles = [], [], ([], [])
    for review in reviews:
        if "games" in review:
            for game in review["games"]:
                key = f"{review['id']}|{game['baseline']}|{game['order']}"
                if game.get("outcome") is not None and key in other:
                    ours.append(game["outcome"])
                    theirs.append(other[key])
                    battles[0].append((policy, game["baseline"], game["outcome"]))
                    battles[1].append((policy, game["baseline"], other[key]))
            continue
        mine = review.get("rating") if review.get("rating") is not None else (review.get("scores") or [None, None])[1]
        if mine is not None and str(review["id"]) in other:
            ours.append(float(mine))
            theirs.append(other[str(review["id"])])
    result = {
        "items": len(ours),
        "pearson": rounded(pearson(ours, theirs)),
        "kendall_tau": rounded(kendall_tau(ours, theirs)),
    }
    if battles[0]:
        mine_rated, their_rated = bradley_terry(battles[0]), bradley_terry(battles[1])
        models = sorted(mine_rated)
        x, y = [mine_rated[m] for m in models], [their_rated[m] for m in models]
        result["model_level"] = {
            "models": len(models),
            "pearson": rounded(pearson(x, y)),
            "kendall_tau": rounded(kendall_tau(x, y)),
        }
    return result


WILDVISION_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to the "
    "user prompt displayed below. You will be given assistant A's answer and assistant B's answer. Your job is to "
    "evaluate which assistant's answer is better.\n\nBegin your evaluation by generating your own answer to the "
    "prompt. You must provide your answers before judging any answers.\n\nWhen evaluating the assistants' answers, "
    "compare both assistants' answers with your answer. You must identify and correct any mistakes or inaccurate "
    "information.\n\n"
    "Then consider if the assistant's answers are helpful, relevant, and concise. Helpful means the answer correctly "
    "responds to the prompt or follows the instructions. Note when user prompt has any ambiguity or more than one "
    "interpretation, it is more helpful and appropriate to ask for clarifications or more information from the user "
    "than providing an answer based on assumptions. Relevant means all parts of the response closely connect or are "
    "appropriate to what is being asked. Concise means the response is clear and not verbose or excessive.\n\nThen "
    "consider the creativity and novelty of the assistant's answers when needed. Finally, identify any missing "
    "important information in the assistants' answers that would be beneficial to include when responding to the user "
    "prompt.\n\nAfter providing your explanation, you must output only one of the following choices as your final "
    "verdict with a label:\n\n1. Assistant A is significantly better: [[A>>B]]\n2. Assistant A is slightly better: "
    "[[A>B]]\n3. Tie, relatively the same: [[A=B]]\n4. Assistant B is slightly better: [[B>A]]\n5. Assistant B is "
    'significantly better: [[B>>A]]\n\nExample output: "My final verdict is tie: [[A=B]]".'
)
_LABEL = re.compile(r"\[\[([AB<>=]+)\]\]")
_LABEL_WINNER = {"A>>B": "A", "A>B": "A", "A=B": "tie", "B>A": "B", "B>>A": "B"}


def pairwise_prompt(question: str, first: str, second: str) -> str:
    """WildVision-Bench's judgment request: its system prompt, then its user template (question, answers A and B)."""
    return (
        f"{WILDVISION_SYSTEM}\n\n<|User Prompt|>\n{question}\n\n<|The Start of Assistant A's Answer|>\n{first}\n"
        f"<|The End of Assistant A's Answer|>\n\n<|The Start of Assistant B's Answer|>\n{second}\n"
        "<|The End of Assistant B's Answer|>"
    )


def pairwise_winner(text: str) -> str | None:
    """`A`, `B` or `tie` from a review's `[[...]]` label(s); None with none, an unknown one, or labels that differ."""
    labels = {label for label in _LABEL.findall(text)}
    winners = {_LABEL_WINNER.get(label) for label in labels}
    return winners.pop() if len(winners) == 1 and None not in winners else None


def read_baselines(sources: list[str]) -> dict[str, dict[str, str]]:
    """Every baseline's answers by its name (`read_baseline`); two files of one name are told apart by file name."""
    baselines: dict[str, dict[str, str]] = {}
    for source in sources:
        name, answers = read_baseline(source)
        baselines[name if name not in baselines else f"{name} ({Path(source).name})"] = answers
    return baselines


def read_baseline(source: str) -> tuple[str, dict[str, str]]:
    """A baseline's answers (WildVision-Bench's model answers JSONL: `question_id`, `output`, `model`; an `id` /
    `answer` JSONL reads too): its name (the `model` field, else the file's name) and its answer by question id."""
    path = Path(source)
    if not path.is_file():
        raise UserError(f"--baseline {source}: no such file")
    answers, name = {}, None
    for row in _json_lines(path.read_text(encoding="utf-8"), f"--baseline {source}"):
        key, output = row.get("question_id", row.get("id")), row.get("output", row.get("answer"))
        if key is not None and isinstance(output, str):
            answers[str(key)] = output
            name = name or row.get("model")
    if not answers:
        raise UserError(f"--baseline {source} holds no answer (`question_id` and `output` per line)")
    return str(name or path.stem), answers


def pairwise_report(reviews: list[dict[str, Any]], policy: str = "policy", seed: int = 0) -> dict[str, Any]:
    """Against each baseline, `win_stats`; with the policy and every baseline, a Bradley-Terry ranking on the Elo
    scale (`metrics.bradley_terry`, the code that ranks models in `eval critic`) with a 95% bootstrap interval over
    questions (200 resamples)."""
    import random

    from rl_critic.evaluation.metrics import bradley_terry

    names = sorted({game["baseline"] for review in reviews for game in review["games"]})
    by_baseline = {
        name: win_stats(
            [{**review, "games": [g for g in review["games"] if g["baseline"] == name]} for review in reviews], seed
        )
        for name in names
    }

    def battles(chosen: list[dict[str, Any]]) -> list[tuple[str, str, float]]:
        return [
            (policy, game["baseline"], game["outcome"])
            for review in chosen
            for game in review["games"]
            if game.get("outcome") is not None
        ]

    ratings = bradley_terry(battles(reviews))
    rng, drawn = random.Random(seed), {model: [] for model in ratings}
    for _ in range(200 if reviews else 0):
        sample = bradley_terry(battles([reviews[rng.randrange(len(reviews))] for _ in reviews]))
        for model, value in sample.items():
            drawn.setdefault(model, []).append(value)
    ranking = []
    for model, rating in sorted(ratings.items(), key=lambda item: -item[1]):
        values = sorted(drawn.get(model) or [rating])
        interval = [round(values[int(0.025 * len(values))], 1), round(values[int(0.975 * len(values)) - 1], 1)]
        ranking.append({"model": model, "rating": round(rating, 1), "interval": interval})
    return {"by_baseline": by_baseline, "ranking": ranking}


def win_stats(reviews: list[dict[str, Any]], seed: int = 0, resamples: int = 1000) -> dict[str, Any]:
    """Wins, ties and losses of the policy over every readable game, the win rate with a 95% bootstrap interval over
    questions, the win rate per order, and the unreadable games."""
    import random

    reviews = [review for review in reviews if review["games"]]
    per_question = [
        [game["outcome"] for game in review["games"] if game.get("outcome") is not None] for review in reviews
    ]
    outcomes = [outcome for games in per_question for outcome in games]
    games = sum(len(review["games"]) for review in reviews)
    result: dict[str, Any] = {
        "questions": len(reviews),
        "games": games,
        "unreadable": games - len(outcomes),
        "wins": sum(outcome == 1.0 for outcome in outcomes),
        "ties": sum(outcome == 0.5 for outcome in outcomes),
        "losses": sum(outcome == 0.0 for outcome in outcomes),
    }
    if not outcomes:
        return {**result, "win_rate": None}
    result["win_rate"] = round(sum(outcomes) / len(outcomes), 4)
    rng, rates = random.Random(seed), []
    for _ in range(resamples):
        drawn = [outcome for _ in per_question for outcome in per_question[rng.randrange(len(per_question))]]
        if drawn:
            rates.append(sum(drawn) / len(drawn))
    rates.sort()
    result["win_rate_interval"] = [
        round(rates[int(0.025 * len(rates))], 4),
        round(rates[int(0.975 * len(rates)) - 1], 4),
    ]
    for order in ("policy_first", "policy_second"):
        chosen = [game["outcome"] for review in reviews for game in review["games"] if game["order"] == order]
        readable = [outcome for outcome in chosen if outcome is not None]
        result[f"win_rate_{order}"] = round(sum(readable) / len(readable), 4) if readable else None
    return result


def review_prompt(context: str, question: str, first: str, second: str, category: str) -> str:
    """The review request of LLaVA's `eval_gpt_review_bench.py`: context, question, both answers, instruction."""
    instruction = LLAVA_BENCH_INSTRUCTION if category in LLAVA_BENCH_CATEGORIES else DEFAULT_INSTRUCTION
    return (
        f"[Context]\n{context}\n\n[Question]\n{question}\n\n"
        f"[Assistant 1]\n{first}\n\n[End of Assistant 1]\n\n"
        f"[Assistant 2]\n{second}\n\n[End of Assistant 2]\n\n"
        f"[System]\n{instruction}\n\n"
    )


_NUMBER = r"[-+]?\d+(?:\.\d+)?"


def review_scores(text: str) -> tuple[float, float] | None:
    """The two scores of a review: its first line holding exactly two numbers (commas count as spaces, as LLaVA's
    `parse_score` reads it), else a boxed pair (an R1 critic's answer); None when neither is there."""
    first_line = text.strip().split("\n")[0].replace(",", " ")
    parts = first_line.split()
    if len(parts) == 2 and all(re.fullmatch(_NUMBER, part) for part in parts):
        return float(parts[0]), float(parts[1])
    from rl_critic.critique.verdicts import read_two_scores

    return read_two_scores(text)


def reference_report(reviews: list[dict[str, Any]]) -> dict[str, Any]:
    """Per category and `all`: questions, unreadable reviews, the two means over the readable ones and the relative
    score 100 x mean(policy) / mean(reference) (None without a readable review or with a reference mean of 0)."""

    def summary(items: list[dict[str, Any]]) -> dict[str, Any]:
        readable = [item["scores"] for item in items if item.get("scores") is not None]
        result: dict[str, Any] = {"questions": len(items), "unreadable": len(items) - len(readable)}
        if readable:
            # the means rounded to 3 places first, then the ratio: as summarize_gpt_review.py computes it
            reference = round(sum(score[0] for score in readable) / len(readable), 3)
            policy = round(sum(score[1] for score in readable) / len(readable), 3)
            result["reference_mean"], result["policy_mean"] = reference, policy
            result["relative"] = round(100 * policy / reference, 1) if reference and math.isfinite(reference) else None
        else:
            result["relative"] = None
        return result

    return per_category(reviews, summary)


def review_requests(
    rows: list,
    records: list[dict[str, Any]],
    budget,
    mode: str = "reference",
    baselines: dict[str, dict[str, str]] | None = None,
) -> tuple[list[list], list[dict[str, Any]]]:
    """The judge requests of `mode` for each answered question (its picture(s) shown to the judge as to the policy):
    one `PairRequest` in LLaVA-Bench's review layout (`reference`), one `ScoreRequest` with MMHal-Bench's prompt
    (`score`), or for each of the `baselines` (name -> answers by question id) that answered the question, two
    `PairRequest`s in WildVision-Bench's layout, its answer first, then second (`pairwise`); and the review records
    they fill. Questions that could not be answered, or lack the reference (or every baseline's) answer, are review
    records with an `error`."""
    from rl_critic.critique.judgments import PairRequest, ScoreRequest
    from rl_critic.critique.questions import load_question
    from rl_critic.evaluation.mmhal_prompt import MMHAL_PROMPT

    by_id = {str(row.data.get("id")): row for row in rows if isinstance(row.data, dict)}
    requests, reviews = [], []
    for record in records:
        row = by_id.get(str(record["id"]))
        data = row.data if row is not None else {}
        review = {"id": record["id"], "category": str(data.get("category") or "")}
        if mode == "pairwise":
            opponents = {
                name: answers[str(record["id"])]
                for name, answers in (baselines or {}).items()
                if str(answers.get(str(record["id"])) or "").strip()
            }
            reference = next(iter(opponents.values()), None)
        else:
            reference = data.get("answer")
        if "errors" in record:
            reviews.append({**review, "error": "; ".join(record["errors"])})
            continue
        if not isinstance(reference, str) or not reference.strip():
            missing = "no baseline answer" if mode == "pairwise" else "no reference answer"
            reviews.append({**review, "error": f"{missing} to judge against"})
            continue
        answer = record["candidates"][record["pick"]]  # the one answer (`--n 1`): `pick` is its index
        media = load_question(row, budget).problem.media
        context, asked = str(data.get("context") or ""), str(data.get("question"))
        if mode == "score":
            prompt = MMHAL_PROMPT.format(image_content=context, question=asked, reference=reference, answer=answer)
            requests.append([ScoreRequest(asked, answer, media, MMHAL_SCALE, prompt)])
        elif mode == "pairwise":  # against each baseline: the policy as B, then as A
            asked_pairs = []
            for other in opponents.values():
                asked_pairs.append(PairRequest(asked, other, answer, media, pairwise_prompt(asked, other, answer)))
                asked_pairs.append(PairRequest(asked, answer, other, media, pairwise_prompt(asked, answer, other)))
            requests.append(asked_pairs)
            reviews.append({**review, "question": data.get("question"), "answer": answer, "baselines": opponents})
            continue
        else:
            prompt = review_prompt(context, asked, reference, answer, review["category"])
            requests.append([PairRequest(asked, reference, answer, media, prompt)])
        reviews.append({**review, "question": data.get("question"), "reference": reference, "answer": answer})
    return requests, reviews


def judged(review: dict[str, Any], judgments: list, mode: str = "reference") -> dict[str, Any]:
    """A review record with its judgment(s): the raw review(s) and what is read from them (`reference`: the two
    scores, `review_scores`; `score`: the rating, `mmhal_rating`; `pairwise`: each game's winner and the policy's
    outcome; None when unreadable), or why it was not judged (a prompt too long for the judge)."""
    too_long = next((judgment for judgment in judgments if getattr(judgment, "raw", None) is None), None)
    if too_long is not None:  # a `TooLong`
        return {**review, "error": f"judge {too_long}"}
    if mode == "pairwise":
        games, pending = [], iter(judgments)
        for name in review["baselines"]:
            for order, policy in (("policy_second", "B"), ("policy_first", "A")):
                raw = next(pending).raw
                winner = pairwise_winner(raw)
                outcome = None if winner is None else 0.5 if winner == "tie" else float(winner == policy)
                games.append({"baseline": name, "order": order, "review": raw, "winner": winner, "outcome": outcome})
        return {**review, "games": games}
    raw = judgments[0].raw
    if mode == "score":
        return {**review, "review": raw, "rating": mmhal_rating(raw)}
    return {**review, "review": raw, "scores": review_scores(raw)}
