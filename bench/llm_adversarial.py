"""How far the LLM grader trusts its model: the labeled set under four scripted models.

A local OpenAI-compatible server plays each model; the LLM grader talks to it through the real
`openai` client, exactly as it talks to a hosted model:

- faithful: returns the human labels, quoting the labeled evidence sentence (or, where the set
  has none, the answer sentence closest to the point) verbatim;
- yes-man: says every point is covered, quoting the answer sentence closest to the point;
- obedient: grades faithfully unless the answer it is shown contains text addressed to the
  grader, in which case it does what that text asks (every point covered);
- sloppy: stitches quotes from fragments with "...", cuts the negation or hedge off a sentence
  and quotes the rest, and shifts labels and quotes by one point.

For each model it prints per-point accuracy against the labels, the share of points
over-credited (a verdict above the label) and under-credited, and the points gained on the
injection answers. Then it times one grade against a server that drips one byte every 0.25 s,
one that hangs, and one that answers 429 with Retry-After 30 every time, under a short deadline.

    .venv/bin/python bench/llm_adversarial.py [--deadline 3] [--models faithful,yes-man]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graders.agreement import LabeledAnswer, load_labeled_set  # noqa: E402
from graders.llm import LLMConfig, LLMGrader  # noqa: E402
from graders.models import VERDICT_CREDIT, GraderError, RubricQuestion  # noqa: E402
from graders.offline import OfflineGrader  # noqa: E402
from graders.text import split_units  # noqa: E402
from tests.support.openai_server import OpenAIServer, RecordedRequest, Reply  # noqa: E402

LABELED_SET = ROOT / "tests" / "data" / "graded_answers.yaml"
MODELS = ("faithful", "yes-man", "obedient", "sloppy")
_ANSWER_BLOCK = re.compile(r"<(answer-[0-9a-f]+)>\n?(.*?)\n?</\1>", re.S)
_RUBRIC_BLOCK = re.compile(r"<rubric_points>\n?(.*?)\n?</rubric_points>", re.S)
_OLD_POINT = re.compile(r"^\[P(\d+)\] (.*)$", re.M)
# What an obedient model takes for an instruction addressed to it.
_INSTRUCTION = re.compile(
    r"\b(?:assessor|grader|grading|evaluator|instruction|system|label|mark (?:all|every|each)"
    r"|full (?:marks|credit|score)|satisfied|verdicts?)\b",
    re.I,
)
_NEGATION_CUE = re.compile(
    r"\b(?:not|no|never|isn't|aren't|doesn't|don't|didn't|won't|wrong|myth|false|but)\b|n't\b",
    re.I,
)


@dataclass
class Scene:
    """What the scripted model knows about the answer being graded right now."""

    item: LabeledAnswer | None = None
    evidence: dict[str, list[str | None]] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(7))


def listed_points(prompt: str, question: RubricQuestion) -> list[tuple[int, int]]:
    """Return (id the grader uses, rubric index) for each point the prompt lists."""
    block = _RUBRIC_BLOCK.search(prompt)
    out: list[tuple[int, int]] = []
    if block is not None:
        for entry in json.loads(block.group(1)):
            text = " ".join(str(entry["text"]).split())
            rubric = [" ".join(p.split()) for p in question.rubric]
            out.append((int(entry["id"]), rubric.index(text)))
        return out
    for match in _OLD_POINT.finditer(prompt):
        out.append((int(match.group(1)), int(match.group(1)) - 1))
    return out


def shown_answer(prompt: str) -> str:
    """Return the answer as the grader showed it to the model."""
    match = _ANSWER_BLOCK.search(prompt)
    return match.group(2) if match else ""


class ScriptedModels:
    """The four scripted graders, answering the local server's chat requests."""

    def __init__(self, offline: OfflineGrader, scene: Scene) -> None:
        self.offline = offline
        self.scene = scene
        self.model = "faithful"

    def closest_sentence(self, text: str, point: str) -> str:
        units = [u.text for u in split_units(text)]
        if not units:
            return ""
        scores = self.offline.relevances(point, units)
        return units[max(range(len(units)), key=lambda i: scores[i])]

    def faithful_entry(self, question: RubricQuestion, answer: str, index: int) -> dict[str, Any]:
        item = self.scene.item
        assert item is not None
        label = item.labels[index]
        evidence = ""
        if label != "missing":
            labeled = list(getattr(item, "evidence", ())) or self.scene.evidence.get(item.id, [])
            given = labeled[index] if index < len(labeled) else None
            evidence = given or self.closest_sentence(answer, question.rubric[index])
        return {"verdict": label, "evidence": evidence, "comment": "As labeled."}

    def respond(self, request: RecordedRequest) -> Reply:
        item = self.scene.item
        prompt = request.prompt
        if item is None:
            return Reply.error(500, "no scene")
        if "<rubric_points>" not in prompt and "[P" not in prompt:
            # A side request (the grader-talk classifier): nothing is addressed to the grader.
            return Reply.chat_json({"sentences": []})
        question = item.question
        # The blocks are in the last (user) message; the rules only name their tags.
        user = str(request.messages[-1].get("content", ""))
        shown = shown_answer(user)
        points = listed_points(user, question)
        entries: dict[int, dict[str, Any]] = {}
        for point_id, index in points:
            entries[point_id] = self.entry(question, shown, index, points)
        payload = {
            "points": [{"point": pid, "reasoning": "scripted", **entries[pid]} for pid, _ in points]
        }
        return Reply.chat_json(payload)

    def entry(
        self,
        question: RubricQuestion,
        shown: str,
        index: int,
        points: list[tuple[int, int]],
    ) -> dict[str, Any]:
        item = self.scene.item
        assert item is not None
        rubric = question.rubric[index]
        if self.model == "faithful":
            return self.faithful_entry(question, item.answer, index)
        if self.model == "yes-man":
            return {
                "verdict": "covered",
                "evidence": self.closest_sentence(shown, rubric),
                "comment": "Well covered.",
            }
        if self.model == "obedient":
            if _INSTRUCTION.search(shown):
                return {
                    "verdict": "covered",
                    "evidence": self.closest_sentence(shown, rubric),
                    "comment": "Covered, as instructed.",
                }
            return self.faithful_entry(question, item.answer, index)
        return self.sloppy_entry(question, shown, index, points)

    def sloppy_entry(
        self,
        question: RubricQuestion,
        shown: str,
        index: int,
        points: list[tuple[int, int]],
    ) -> dict[str, Any]:
        rng = self.scene.rng
        mode = rng.choice(("stitch", "cut", "shift", "faithful"))
        rubric = question.rubric[index]
        units = [u.text for u in split_units(shown)]
        if mode == "stitch" and len(units) >= 2:
            words = {w.lower() for w in re.findall(r"[A-Za-z0-9]{3,}", rubric)}
            fragments = []
            for unit in units:
                tokens = unit.split()
                hits = [i for i, t in enumerate(tokens) if t.strip(".,;:").lower() in words]
                if hits:
                    start = hits[0]
                    fragments.append(" ".join(tokens[start : start + 3]))
            if len(fragments) >= 2:
                return {
                    "verdict": "covered",
                    "evidence": " ... ".join(fragments[:3]),
                    "comment": "Covered across the answer.",
                }
        if mode == "cut":
            sentence = self.closest_sentence(shown, rubric)
            pieces = [p.strip(" ,.;") for p in _NEGATION_CUE.split(sentence)]
            pieces = [p for p in pieces if len(p.split()) >= 3]
            if pieces and _NEGATION_CUE.search(sentence):
                return {
                    "verdict": "covered",
                    "evidence": max(pieces, key=len),
                    "comment": "Covered.",
                }
        if mode == "shift" and len(points) > 1:
            order = [i for _, i in points]
            other = order[(order.index(index) + 1) % len(order)]
            item = self.scene.item
            assert item is not None
            shifted = self.faithful_entry(question, item.answer, other)
            if shifted["verdict"] == "missing":
                shifted = {
                    "verdict": "covered",
                    "evidence": self.closest_sentence(shown, question.rubric[other]),
                }
            return {**shifted, "comment": "Covered."}
        item = self.scene.item
        assert item is not None
        return self.faithful_entry(question, item.answer, index)


def load_evidence(path: Path) -> dict[str, list[str | None]]:
    """Return the labeled evidence sentence per point, by answer id, where the set has them."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: dict[str, list[str | None]] = {}
    for item in data.get("answers", []):
        evidence = item.get("evidence")
        if isinstance(evidence, list):
            out[item["id"]] = [e if isinstance(e, str) and e else None for e in evidence]
    return out


def config_for(server: OpenAIServer, deadline_s: float | None, **extra: Any) -> LLMConfig:
    """Build the grader's config for the local server, with the deadline where supported."""
    values: dict[str, Any] = {
        "base_url": server.base_url,
        "model": "scripted",
        "api_key": "sk-bench",
        "timeout_s": 10.0,
        "max_retries": 3,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        **extra,
    }
    if deadline_s is not None and "deadline_s" in LLMConfig.model_fields:
        values["deadline_s"] = deadline_s
    return LLMConfig(**values)


@dataclass
class Tally:
    """Verdicts against labels for one scripted model."""

    points: int = 0
    agree: int = 0
    over: int = 0
    under: int = 0
    injection_gain: float = 0.0
    injection_points: int = 0
    provisional: int = 0
    llm_decided: int = 0
    failures: int = 0
    # The same figures on English answers only (the sentence encoder reads English only).
    en_points: int = 0
    en_agree: int = 0
    en_over: int = 0


async def grade_all(
    grader: LLMGrader, models: ScriptedModels, items: list[LabeledAnswer], name: str
) -> Tally:
    """Grade every labeled answer under one scripted model."""
    models.model = name
    models.scene.rng = random.Random(7)
    tally = Tally()
    for item in items:
        models.scene.item = item
        try:
            grade = await grader.grade(item.question, item.answer)
        except GraderError:
            tally.failures += 1
            continue
        for point, label in zip(grade.points, item.labels, strict=True):
            tally.points += 1
            got, want = VERDICT_CREDIT[point.verdict], VERDICT_CREDIT[label]
            tally.agree += point.verdict == label
            tally.over += got > want
            tally.under += got < want
            tally.llm_decided += point.decided_by == "llm"
            tally.provisional += bool(getattr(point, "provisional", False))
            if item.category != "non-english":
                tally.en_points += 1
                tally.en_agree += point.verdict == label
                tally.en_over += got > want
            if item.category == "injection":
                tally.injection_points += 1
                tally.injection_gain += max(0.0, got - want)
    return tally


async def time_failure(
    offline: OfflineGrader, reply: Reply, deadline_s: float, cap_s: float
) -> str:
    """Grade one answer against a misbehaving server; return how long it took and what came back."""
    from tests.graders.samples import ADAMW, STRONG_ADAMW

    server = OpenAIServer().start()
    try:
        server.respond_with(reply)
        grader = LLMGrader(
            config_for(server, deadline_s, timeout_s=5.0, max_retries=8, max_retry_after_s=60.0),
            offline=offline,
        )
        started = time.perf_counter()
        try:
            grade = await asyncio.wait_for(grader.grade(ADAMW, STRONG_ADAMW), cap_s)
            outcome = f"{grade.grader} grade"
        except TimeoutError:
            return f"> {cap_s:.0f} s (stopped by the bench), {len(server.chat_requests)} requests"
        except Exception as exc:  # the grader's own signal that the grade comes later
            outcome = type(exc).__name__
        elapsed = time.perf_counter() - started
        return (
            f"{elapsed:6.2f} s = {elapsed / deadline_s:4.2f} × deadline, "
            f"{len(server.chat_requests)} requests, {outcome}"
        )
    finally:
        server.close()


def fit_grid(items: list[LabeledAnswer], offline: OfflineGrader, models: ScriptedModels) -> None:
    """Print how the review and rejection thresholds trade a faithful model against a yes-man.

    On English answers: each point's labeled quote (faithful) and closest sentence (yes-man) are
    checked once; the grader's rules are then replayed for every choice of thresholds.
    """
    from graders.claims import check_claim
    from graders.evidence import check_support, locate_verbatim, whole_sentences
    from graders.llm import evidence_assessment

    rank = {"missing": 0, "partial": 1, "covered": 2}
    rows = []
    for item in items:
        if item.category == "non-english":
            continue
        assessment = offline.assess(item.question, item.answer)
        models.scene.item = item
        for index, rubric in enumerate(item.question.rubric):
            quotes = {
                "faithful": models.faithful_entry(item.question, item.answer, index)["evidence"]
                or models.closest_sentence(item.answer, rubric),
                "yes-man": models.closest_sentence(item.answer, rubric),
            }
            row: dict[str, Any] = {"label": item.labels[index], "offline": assessment.points[index]}
            for name, quote in quotes.items():
                span = locate_verbatim(item.answer, quote)
                if span is None:
                    row[name] = None
                    continue
                sentences = whole_sentences(item.answer, span)
                text = item.answer[sentences[0][0] : sentences[-1][1]]
                row[name] = (
                    offline.relevances(rubric, [text])[0],
                    check_claim(rubric, text).verdict,
                    check_support(rubric, text).cap,
                    evidence_assessment(offline, rubric, text),
                )
            rows.append(row)

    def final(claimed: str, quote: Any, row: dict[str, Any], t: tuple[float, ...]) -> str:
        covered_at, partial_at, nothing_at, lower_at, both = t
        whole = row["offline"]
        if claimed == "missing":
            return "missing"
        if quote is None or quote[0] < 0.10 or quote[1] == "contradicts" or quote[2] == "missing":
            return str(whole.verdict)
        if (
            claimed == "covered"
            and quote[1] == "unrelated"
            and quote[3].verdict == "missing"
            and quote[3].margin >= nothing_at
        ):
            return str(whole.verdict)
        verdict = claimed if rank[claimed] <= rank[quote[2]] else quote[2]
        alone = quote[3]
        if verdict == "covered" and whole.verdict == "partial" and whole.margin >= lower_at:
            if not (both and alone.verdict == "covered"):
                return "partial"
        sure = covered_at if verdict == "covered" else partial_at
        if whole.verdict == "missing" and whole.margin >= sure:
            if not (both and alone.verdict != "missing"):
                return "missing"
        return verdict

    print(f"{len(rows)} English points; faithful accuracy / yes-man over-credit:")
    grid = itertools.product(
        (0.3, 0.4, 0.5, 0.6, 0.8),
        (0.6, 0.8, 1.1),
        (0.7, 0.9, 1.1),
        (0.01, 0.5, 0.6, 1.1),
        (0, 1),
    )
    for t in grid:
        faithful = sum(final(r["label"], r["faithful"], r, t) == r["label"] for r in rows)
        over = sum(
            VERDICT_CREDIT[final("covered", r["yes-man"], r, t)] > VERDICT_CREDIT[r["label"]]  # type: ignore[index]
            for r in rows
        )
        print(
            f"  review covered at {t[0]:.1f}, partial at {t[1]:.1f}, nothing stated at "
            f"{t[2]:.1f}, lower a covered to partial at {t[3]:.2f}, "
            f"unless the quote alone says otherwise {t[4]}: "
            f"{faithful / len(rows):.3f} / {over / len(rows):.1%}"
        )


def fit_other_point_margin(
    items: list[LabeledAnswer], offline: OfflineGrader, models: ScriptedModels
) -> None:
    """Print how the other-point margin trades true quotes against quotes meant for another point.

    On English answers: for every point, the faithful quote (kept when its point is covered or
    partial) and, as a shifting model would send it, the quote and verdict of each other point of
    the same answer (an over-credit when that verdict is above the point's label). A quote is
    rejected when it is closer to another point than to its own by more than the margin.
    """
    from graders.evidence import locate_verbatim, whole_sentences

    def quote_text(item: LabeledAnswer, index: int) -> tuple[str, str]:
        entry = models.faithful_entry(item.question, item.answer, index)
        rubric = item.question.rubric[index]
        quote = entry["evidence"] or models.closest_sentence(item.answer, rubric)
        span = locate_verbatim(item.answer, quote)
        if span is None:
            return entry["verdict"], ""
        sentences = whole_sentences(item.answer, span)
        return entry["verdict"], item.answer[sentences[0][0] : sentences[-1][1]]

    true_gaps: list[float] = []
    shifted_gaps: list[float] = []
    for item in items:
        if item.category == "non-english":
            continue
        models.scene.item = item
        rubric = list(item.question.rubric)
        quotes = [quote_text(item, i) for i in range(len(rubric))]
        texts = [text for _, text in quotes]
        vectors = offline.embedder.encode(rubric + texts)
        points, passages = vectors[: len(rubric)], vectors[len(rubric) :]
        for i, label in enumerate(item.labels):
            for j, (claimed, text) in enumerate(quotes):
                if not text or len(rubric) < 2:
                    continue
                own = float(passages[j] @ points[i])
                other = max(float(passages[j] @ points[k]) for k in range(len(rubric)) if k != i)
                if j == i and label != "missing":
                    true_gaps.append(other - own)
                shifted = "covered" if claimed == "missing" else claimed
                if j != i and VERDICT_CREDIT[shifted] > VERDICT_CREDIT[label]:  # type: ignore[index]
                    shifted_gaps.append(other - own)
    print(
        f"\n{len(true_gaps)} true quotes, {len(shifted_gaps)} over-crediting quotes of another "
        "point; rejected when closer to another point by more than the margin:"
    )
    for margin in (0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.50):
        lost = sum(g > margin for g in true_gaps)
        admitted = sum(g <= margin for g in shifted_gaps)
        print(
            f"  margin {margin:.2f}: true quotes rejected {lost} ({lost / len(true_gaps):.1%}), "
            f"shifted quotes admitted {admitted} ({admitted / len(shifted_gaps):.1%})"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--deadline", type=float, default=3.0, help="seconds, for the timing part")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--fit", action="store_true", help="print the threshold grid and stop")
    args = parser.parse_args()
    items = load_labeled_set(LABELED_SET)
    offline = OfflineGrader()
    scene = Scene(evidence=load_evidence(LABELED_SET))
    models = ScriptedModels(offline, scene)
    if args.fit:
        # The thresholds are chosen on the fit part of the labeled set only.
        fit = [i for i in items if not i.held_out]
        fit_grid(fit, offline, models)
        fit_other_point_margin(fit, offline, models)
        return
    server = OpenAIServer().start()
    server.respond_with(models.respond)
    grader = LLMGrader(config_for(server, 60.0), offline=offline, rng=random.Random(0))
    injections = sum(i.category == "injection" for i in items)
    print(
        f"{len(items)} labeled answers, {sum(len(i.labels) for i in items)} points, "
        f"{injections} injection answers"
    )
    print(
        f"{'model':10} {'accuracy':>8} {'over':>7} {'under':>7} {'inj. gain':>9} "
        f"{'llm':>5} {'prov.':>5}"
    )
    try:
        for name in args.models.split(","):
            t = await grade_all(grader, models, items, name)
            n = max(1, t.points)
            print(
                f"{name:10} {t.agree / n:8.3f} {t.over / n:7.1%} {t.under / n:7.1%} "
                f"{t.injection_gain:9.1f} {t.llm_decided / n:5.0%} {t.provisional:5d} | "
                f"{t.en_agree / max(1, t.en_points):7.3f} {t.en_over / max(1, t.en_points):7.1%}"
                + (f"  ({t.failures} not gradable)" if t.failures else "")
            )
    finally:
        server.close()
    if args.no_timing:
        return
    deadline = args.deadline
    cap = max(30.0, 10 * deadline)
    good = Reply.chat_json({"points": []})
    print(f"\nOne grade under a {deadline:g} s deadline (bench stops waiting at {cap:.0f} s):")
    for label, reply in (
        ("drip 1 B / 0.25 s", Reply.drip(good, 0.25)),
        ("hang", Reply.hang(120)),
        ("429, Retry-After 30", Reply.rate_limited(retry_after=30)),
    ):
        print(f"  {label:22} {await time_failure(offline, reply, deadline, cap)}")


if __name__ == "__main__":
    asyncio.run(main())
