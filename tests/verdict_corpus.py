"""Generated critic completions for checking rewards against the official LLaVA-Critic-R1 reward.

`generated_completions(n, seed)` draws (completion, label) pairs from every category where two graders of a
boxed verdict can part: spellings of a label (`Response 1`, `Option A`, `I`, `II`, `both`, `draw`), other scripts
and compatibility forms (`١`, `२`, `１`, `¹`, `①`, `Ⅱ`, zero-width and no-break spaces), numbers mathruler
compares as numbers (`.1e1`, `0_1`, `2.00000001`, `1,000`), units and `x=` prefixes (`2 days`, `k = 2`,
`2^\\circ`), LaTeX wrappers mathruler unwraps (`\\textrm{}`, `\\fbox{}`, `\\color{red}{1}`, `\\left(1\\right)`),
boxes naming two labels in two scripts, punctuation (`1)`, `#1`, `«1»`), nested and unbalanced braces, long
texts, and every place a box can sit in a completion (none, several, cut, spaced tags, after `<answer>`).
Deterministic for a seed; shared by the agreement test and the reward benchmark.
"""

from __future__ import annotations

import random

LABELS = ("1", "2", "tie")
# Tokens that name (or almost name) each label; "§" in a template is replaced by one of them.
TOKENS = {
    "1": "1 first A a I i one One ① ١ १ １ ¹ Ⅰ ⅰ 01 1.0 1.00 .1e1 0.1e1 0_1 1e0 2/2 1.",
    "2": "2 second B b II ii two Two ② ٢ २ ２ ² Ⅱ ⅱ 02 2.0 2.00000001 0.2e1 0_2 20e-1 4/2 2.",
    "tie": "tie Tie TIE draw Draw both Both same equal Equal C c neither tied Tied",
}
TEMPLATES = (
    "§",
    "§",
    "§",
    " § ",
    "Response §",
    "response §",
    "Option §",
    "Output §",
    "Assistant §",
    "Answer: §",
    "Answer §",
    "The answer is §",
    "I prefer Response §",
    "Response § is better",
    "Response § is no better",
    "The § response",
    "§)",
    "(§",
    "(§)",
    "[§]",
    "#§",
    "§?",
    "<§>",
    "*§*",
    "**§**",
    "«§»",
    "{§}",
    "{{§}}",
    "$§$",
    "\\$§",
    "§%",
    "§\\%",
    "\\text{§}",
    "{\\text{§}}",
    "\\textbf{§}",
    "\\mathrm{§}",
    "\\mathbf{§}",
    "\\textrm{§}",
    "\\emph{§}",
    "\\underline{§}",
    "\\fbox{§}",
    "\\bf §",
    "{\\bf §}",
    "\\color{red}{§}",
    "\\textcolor{red}{§}",
    "\\left(§\\right)",
    "\\boxed{§}",
    "§ days",
    "§ cm",
    "§ hours",
    "§ million",
    "§\\text{ }",
    "§\\text{ points}",
    "§^\\circ",
    "§^{\\circ}",
    "k = §",
    "x=§",
    "\\text{x=§}",
    "ab=§",
    "abc=§",
    "\u200b§",
    "§\u200b",
    "\u00a0§",
    "\u2003§\u2003",
    "§\\!",
    "\\;§",
    "§\\\\",
    "§ or §",
    "§ and §",
    "§ §",
    "§, §",
    "(§,§)",
    "§ / §",
    "§ < §",
    "-§",
    "\u2212§",
    "+§",
    "§+§",
    "§*1",
    "§}",
    "{§",
    "\\text{§",
    "\\frac{§}{1}",
    "\\dfrac{§}{1}",
    "\\sqrt{§}",
    "\n§\n",
)
FIXED = (
    "",
    "3",
    "0",
    "12",
    "21",
    "1,000",
    "2,0",
    "None",
    "none",
    "x",
    "१ 2",
    "२ 1",
    "1 ٢",
    "٢ ١",
    "1 ٢ 2",
    "१२",
    "1 or 2",
    "\\frac{2}{1}",
    "\\sqrt{4}",
    "\\sqrt4",
    "10/5",
    "1 2/2",
    "neither",
    "I cannot decide",
    "1" + " " * 3000,
    "\\text{" * 50 + "1" + "}" * 50,
    "{" * 300 + "2" + "}" * 300,
)
SENTENCE = "Response 1 says the circle is red, which matches the image, and Response 2 is wrong. "
THINKS = (
    "<think>I compare both responses with the image.</think>",
    "<think>" + SENTENCE * 30 + "</think>\n",
    "< think >spaced tags</ think >\n",
    "<think >\n tags with newlines \n< /think>",
    "<think>first</think><think>second thought</think>",
    "<think>an earlier box \\boxed{2} inside</think>",
    "<think>never closed ",
    "</think><think>backwards",
    "",
    "I forgot the tags. ",
    "<THINK>upper case</THINK>",
)


def _shapes(answer: str, other: str) -> list[str]:
    """Every place a box can be found in a completion, or not."""
    return [
        f"\\boxed{{{answer}}}",
        f"\\boxed{{{answer}}}",
        f"So the answer is \\boxed{{{answer}}}.",
        f"The better response is \\boxed{{{answer}}}\n",
        f"\\boxed{{{other}}} Wait, on reflection: \\boxed{{{answer}}}",
        f"\\boxed{{{answer}}} Wait, on reflection: \\boxed{{{other}",  # last box cut mid-way
        f"\\boxed{{{answer}}} and then the text was cut: \\boxed{{",
        f"\\boxed{{\\boxed{{{answer}}}}}",
        f"\\boxed{{{answer}}}}}",
        f"<answer>{answer}</answer>",
        f"<answer>\\boxed{{{answer}}}</answer>",
        f"\\boxed {{{answer}}}",  # a space: not a box
        f"\\boxed{{\\text{{Response }}{answer}}}",
        f"\\boxed{{ {answer} }} " + SENTENCE * 5,
        f"Final verdict: {answer}",
    ]


def random_answer(rng: random.Random, label: str) -> str:
    """A box content near `label` (its tokens in a template), near another label, or from the fixed list."""
    roll = rng.random()
    if roll < 0.12:
        return rng.choice(FIXED)
    target = label if roll < 0.7 else rng.choice(LABELS)
    template = rng.choice(TEMPLATES)
    tokens = TOKENS[target].split()
    answer = "".join(rng.choice(tokens) if part == "§" else part for part in _split_slots(template))
    if rng.random() < 0.1:  # stray whitespace or an invisible character somewhere
        cut = rng.randrange(len(answer) + 1)
        answer = answer[:cut] + rng.choice((" ", "\t", "\u200b", "\u00a0", "\n")) + answer[cut:]
    return answer


def _split_slots(template: str) -> list[str]:
    parts: list[str] = []
    for piece in template.split("§"):
        parts.extend((piece, "§"))
    return [part for part in parts[:-1] if part]


def generated_completions(n: int = 24_000, seed: int = 0) -> list[tuple[str, str]]:
    """`n` (completion, label) pairs, deterministic for `seed`."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        label = rng.choice(LABELS)
        answer = random_answer(rng, label)
        other = random_answer(rng, rng.choice(LABELS))
        shape = rng.choice(_shapes(answer, other))
        pairs.append((rng.choice(THINKS) + shape, label))
    return pairs
